import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ExpandTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "a mask to its symbolic target", opset: 13,
      inputs: [fact(.bool, [1, 1, 1, seq]), content([batch, 1, seq, seq])],
      expected: .dims([[batch, 1, seq, seq]])),
    ShapeCase(
      name: "the result can exceed the shape", opset: 13,
      inputs: [fact(.float, [3, 1]), ints([2, 1, 6])], expected: .dims([[2, 3, 6]])),
    ShapeCase(
      name: "a shape entry of 1 keeps a symbolic dim", opset: 13,
      inputs: [fact(.float, [batch, seq]), ints([1, 1])], expected: .dims([[batch, seq]])),
    ShapeCase(
      name: "unknown shape keeps constant dims above 1", opset: 13,
      inputs: [fact(.float, [3, 1]), fact(.int64, [3])], expected: .dims([[fresh, 3, fresh]])),
    ShapeCase(
      name: "refuses incompatible dims", opset: 13, inputs: [fact(.float, [2, 3]), ints([4])],
      expected: .error("cannot broadcast [2, 3] with [4]")),
    ShapeCase(
      name: "refuses a negative entry", opset: 13, inputs: [fact(.float, [1]), ints([-2])],
      expected: .error("shape entry -2 is negative")),
    ShapeCase(
      name: "a shape of data-dependent length is not knowable", opset: 13,
      inputs: [fact(.float, [2]), fact(.int64, [seq])], expected: .unsupported),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Expand") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "repeats a column", opset: 13,
      inputs: [floats([1, 2, 3], [3, 1]), int64s([2, 1, 2], [3])],
      expected: [floats([1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3], [2, 3, 2])]),
    EvalCase(
      name: "a scalar fills", opset: 13, inputs: [int64s([7], []), int64s([2], [1])],
      expected: [int64s([7, 7], [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Expand") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a scalar dim repeated", opset: 13, inputs: [content([seq], scalar: true), ints([3])],
      expected: [seq, seq, seq]),
    ContentCase(
      name: "a vector kept", opset: 13, inputs: [content([batch, seq]), ints([2])],
      expected: [batch, seq]),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Expand")
  }
}
