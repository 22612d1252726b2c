import AttncTensor
import Testing

@testable import AttncIR

@Suite struct GatherNDTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "full index tuples pick elements", opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [seq, 2])], expected: .dims([[seq]])),
    ShapeCase(
      name: "partial tuples pick slices", opset: 13,
      inputs: [fact(.float, [2, 2, 64]), fact(.int64, [3, 1])], expected: .dims([[3, 2, 64]])),
    ShapeCase(
      name: "batch dims are shared", attributes: ["batch_dims": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, 2, 2]), fact(.int64, [batch, 1])],
      expected: .dims([[batch, 2]])),
    ShapeCase(
      name: "refuses a symbolic tuple length", opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [3, seq])],
      expected: .error("the last dim of indices must be a known constant, got seq")),
    ShapeCase(
      name: "refuses tuples longer than the rank", opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [1, 3])],
      expected: .error("indices address 3 axes after 0 batch dims of a rank-2 tensor")),
    ShapeCase(
      name: "refuses differing batch dims", attributes: ["batch_dims": .int(1)], opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [3, 1])],
      expected: .error("batch dims on axis 0 differ: 3 and 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("GatherND") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "elements", opset: 13,
      inputs: [int64s([0, 1, 2, 3], [2, 2]), int64s([0, 0, 1, 1], [2, 2])],
      expected: [int64s([0, 3], [2])]),
    EvalCase(
      name: "rows", opset: 13, inputs: [int64s([0, 1, 2, 3], [2, 2]), int64s([1, 0], [2, 1])],
      expected: [int64s([2, 3, 0, 1], [2, 2])]),
    EvalCase(
      name: "with a batch dim", attributes: ["batch_dims": .int(1)], opset: 13,
      inputs: [floats([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2]), int64s([1, 0], [2, 1])],
      expected: [floats([2, 3, 4, 5], [2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("GatherND") }
}
