import AttncTensor
import Testing

@testable import AttncIR

@Suite struct UnsqueezeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "a scalar becomes a vector", opset: 13, inputs: [fact(.int64, []), ints([0])],
      expected: .dims([[1]])),
    ShapeCase(
      name: "inserts at output positions", opset: 13,
      inputs: [fact(.float, [batch, seq]), ints([1, -1])], expected: .dims([[batch, 1, seq, 1]])),
    ShapeCase(
      name: "unsorted axes", opset: 13, inputs: [fact(.float, [3, 4, 5]), ints([5, 4, 2])],
      expected: .dims([[3, 4, 1, 5, 1, 1]])),
    ShapeCase(
      name: "opset 11 reads the attribute", attributes: ["axes": .ints([0])], opset: 11,
      inputs: [fact(.float, [seq])], expected: .dims([[1, seq]])),
    ShapeCase(
      name: "unknown axes give fresh dims of the known rank", opset: 13,
      inputs: [fact(.float, [3, 4]), fact(.int64, [1])], expected: .dims([[fresh, fresh, fresh]])),
    ShapeCase(
      name: "refuses a repeated axis", opset: 13, inputs: [fact(.float, [3]), ints([1, 1])],
      expected: .error("axes [1, 1] repeat an axis")),
    ShapeCase(
      name: "refuses an axis out of range", opset: 13, inputs: [fact(.float, [3]), ints([2])],
      expected: .error("axis 2 is out of range for rank 2")),
    ShapeCase(
      name: "opset 11 needs the attribute", opset: 11, inputs: [fact(.float, [3])],
      expected: .error("attribute 'axes' is required")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Unsqueeze") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "adds axes", opset: 13, inputs: [floats([1, 2], [2]), int64s([0, 2], [2])],
      expected: [floats([1, 2], [1, 2, 1])])
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Unsqueeze") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a scalar dim becomes a one-element vector", opset: 13,
      inputs: [content([seq], scalar: true), ints([0])], expected: [seq])
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Unsqueeze")
  }
}
