import AttncTensor
import Testing

@testable import AttncIR

@Suite struct SizeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "a scalar int64 for any input", opset: 13, inputs: [fact(.float, [batch, seq, 768])],
      expected: .types([TensorType(.int64, [])])),
    ShapeCase(
      name: "strings have a size too", opset: 13, inputs: [fact(.string, [3])],
      expected: .types([TensorType(.int64, [])])),
    ShapeCase(
      name: "refuses two inputs", opset: 13, inputs: [fact(.float, [2]), fact(.float, [2])],
      expected: .error("expects 1 inputs, got 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Size") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "counts elements", opset: 13, inputs: [floats([1, 2, 3, 4, 5, 6], [2, 3])],
      expected: [HostTensor(int64s: [6], shape: [])]),
    EvalCase(
      name: "an empty tensor has size 0", opset: 13, inputs: [floats([], [2, 0])],
      expected: [HostTensor(int64s: [0], shape: [])]),
    EvalCase(
      name: "a scalar has size 1", opset: 13, inputs: [floats([7], [])],
      expected: [HostTensor(int64s: [1], shape: [])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Size") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "the product of symbolic dims", opset: 13, inputs: [fact(.float, [batch, seq, 768])],
      expected: [768 * batch * seq]),
    ContentCase(
      name: "a constant for constant dims", opset: 13, inputs: [fact(.float, [2, 3])],
      expected: [6]),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Size")
  }
}
