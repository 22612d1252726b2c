import AttncKernels
import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ScatterNDTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "element tuples keep data's dims", opset: 16,
      inputs: [fact(.float, [batch, 4]), fact(.int64, [3, 2]), fact(.float, [3])], expected: .dims([[batch, 4]])),
    ShapeCase(
      name: "row tuples take row updates", opset: 16,
      inputs: [fact(.float, [4, 4, seq]), fact(.int64, [2, 1]), fact(.float, [2, 4, seq])],
      expected: .dims([[4, 4, seq]])),
    ShapeCase(
      name: "refuses tuples longer than the rank", opset: 16,
      inputs: [fact(.float, [2, 2]), fact(.int64, [1, 3]), fact(.float, [1])],
      expected: .error("indices address 3 axes of a rank-2 tensor")),
    ShapeCase(
      name: "refuses updates of the wrong dims", opset: 16,
      inputs: [fact(.float, [4, 3]), fact(.int64, [2, 1]), fact(.float, [2, 2])],
      expected: .error("updates and indices + data dims on axis 1 differ: 2 and 3")),
    ShapeCase(
      name: "refuses updates of another type", opset: 16,
      inputs: [fact(.float, [4]), fact(.int64, [1, 1]), fact(.int64, [1])],
      expected: .error("updates has type int64 but data has float32")),
    ShapeCase(
      name: "refuses an unknown reduction", attributes: ["reduction": .string("sum")], opset: 18,
      inputs: [fact(.float, [4]), fact(.int64, [1, 1]), fact(.float, [1])],
      expected: .error("reduction 'sum' is not one of none, add, mul, max, min")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("ScatterND") }

  /// The ONNX operator documentation's examples, a repeated index, negative indices and integers.
  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "elements (the ONNX example 1)", opset: 16,
      inputs: [floats([1, 2, 3, 4, 5, 6, 7, 8], [8]), int64s([4, 3, 1, 7], [4, 1]), floats([9, 10, 11, 12], [4])],
      expected: [floats([1, 11, 3, 10, 9, 6, 7, 12], [8])]),
    EvalCase(
      name: "rows, negative index from the end", opset: 16,
      inputs: [floats([0, 1, 2, 3, 4, 5], [3, 2]), int64s([-1, 0], [2, 1]), floats([10, 11, 20, 21], [2, 2])],
      expected: [floats([20, 21, 2, 3, 10, 11], [3, 2])]),
    EvalCase(
      name: "a repeated index: the last update wins", opset: 16,
      inputs: [floats([0, 0], [2]), int64s([1, 1], [2, 1]), floats([5, 7], [2])],
      expected: [floats([0, 7], [2])]),
    EvalCase(
      name: "add accumulates a repeated index", attributes: ["reduction": .string("add")], opset: 16,
      inputs: [floats([1, 1], [2]), int64s([1, 1], [2, 1]), floats([5, 7], [2])],
      expected: [floats([1, 13], [2])]),
    EvalCase(
      name: "max and integers", attributes: ["reduction": .string("max")], opset: 18,
      inputs: [int64s([4, 1, 9], [3]), int64s([0, 1, 2], [3, 1]), int64s([2, 6, 9], [3])],
      expected: [int64s([4, 6, 9], [3])]),
    EvalCase(
      name: "full tuples into a matrix", opset: 16,
      inputs: [floats([0, 0, 0, 0], [2, 2]), int64s([0, 1, 1, 0], [2, 2]), floats([3, 4], [2])],
      expected: [floats([0, 3, 4, 0], [2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("ScatterND") }

  @Test func refusesAnIndexOutOfRange() throws {
    let data = Tensor.float([0, 0], [2])
    #expect(throws: AttncError.self) {
      try Movement.scatterND(data, .int([2], [1, 1]), .float([1], [1]), reduction: .none)
    }
  }
}
