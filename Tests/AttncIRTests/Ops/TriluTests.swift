import AttncTensor
import Testing

@testable import AttncIR

@Suite struct TriluTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps a batched shape", type: "Trilu", opset: 14,
      inputs: [fact(.float, [batch, seq, seq]), ints([1], scalar: true)],
      expected: .types([TensorType(.float, [batch, seq, seq])])),
    ComputeShapeCase(
      name: "refuses a vector", type: "Trilu", opset: 14, inputs: [fact(.float, [4])],
      expected: .error("input must have rank ≥ 2, got rank 1")),
    ComputeShapeCase(
      name: "refuses an int32 k", type: "Trilu", opset: 14,
      inputs: [fact(.float, [4, 4]), fact(.int32, [])],
      expected: .error("input 'k' must be an int64 scalar, got int32[]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let x = int64s([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3])

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "keeps the upper triangle", type: "Trilu", opset: 14, inputs: [x],
      expected: [int64s([1, 2, 3, 0, 5, 6, 0, 0, 9], [3, 3])]),
    ComputeEvalCase(
      name: "keeps the lower triangle", type: "Trilu", attributes: ["upper": .int(0)], opset: 14,
      inputs: [x], expected: [int64s([1, 0, 0, 4, 5, 0, 7, 8, 9], [3, 3])]),
    ComputeEvalCase(
      name: "shifts the diagonal up", type: "Trilu", opset: 14, inputs: [x, int64s([1], [])],
      expected: [int64s([0, 2, 3, 0, 0, 6, 0, 0, 0], [3, 3])]),
    ComputeEvalCase(
      name: "shifts the diagonal down", type: "Trilu", attributes: ["upper": .int(0)], opset: 14,
      inputs: [x, int64s([-1], [])], expected: [int64s([0, 0, 0, 4, 0, 0, 7, 8, 0], [3, 3])]),
    ComputeEvalCase(
      name: "masks every matrix of a batch", type: "Trilu", attributes: ["upper": .int(0)],
      opset: 14, inputs: [floats([1, 1, 1, 1, 2, 2, 2, 2], [2, 2, 2])],
      expected: [floats([1, 0, 1, 1, 2, 0, 2, 2], [2, 2, 2])]),
    ComputeEvalCase(
      name: "handles an empty matrix", type: "Trilu", opset: 14, inputs: [floats([], [0, 5])],
      expected: [floats([], [0, 5])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
