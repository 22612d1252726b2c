import AttncTensor
import Testing

@testable import AttncIR

@Suite struct SqueezeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "removes the listed axis", opset: 13,
      inputs: [fact(.float, [batch, 1, seq]), ints([1])], expected: .dims([[batch, seq]])),
    ShapeCase(
      name: "negative axes count from the end", opset: 13,
      inputs: [fact(.float, [batch, seq, 1]), ints([-1])], expected: .dims([[batch, seq]])),
    ShapeCase(
      name: "a symbolic dim listed is taken as 1", opset: 13,
      inputs: [fact(.float, [batch, seq]), ints([0])], expected: .dims([[seq]])),
    ShapeCase(
      name: "without axes removes every constant 1", opset: 13,
      inputs: [fact(.float, [1, batch, 1, 3])], expected: .dims([[batch, 3]])),
    ShapeCase(
      name: "opset 11 reads the attribute", attributes: ["axes": .ints([0, 2])], opset: 11,
      inputs: [fact(.float, [1, seq, 1])], expected: .dims([[seq]])),
    ShapeCase(
      name: "unknown axes give fresh dims of the known rank", opset: 13,
      inputs: [fact(.float, [1, 3, 1, 5]), fact(.int64, [2])], expected: .dims([[fresh, fresh]])),
    ShapeCase(
      name: "refuses to squeeze a dim other than 1", opset: 13,
      inputs: [fact(.float, [2, 3]), ints([1])], expected: .error("cannot squeeze axis 1 of size 3")
    ),
    ShapeCase(
      name: "refuses an axis out of range", opset: 13,
      inputs: [fact(.float, [1, 3]), ints([2])],
      expected: .error("axis 2 is out of range for rank 2")),
    ShapeCase(
      name: "refuses a repeated axis", opset: 13,
      inputs: [fact(.float, [1, 3]), ints([0, -2])], expected: .error("axes [0, -2] repeat an axis")
    ),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Squeeze") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "drops size-1 axes", opset: 13, inputs: [floats([1, 2, 3], [1, 3, 1]), nil],
      expected: [floats([1, 2, 3], [3])]),
    EvalCase(
      name: "drops the listed axis only", opset: 13,
      inputs: [floats([1, 2, 3], [1, 3, 1]), int64s([2], [1])],
      expected: [floats([1, 2, 3], [1, 3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Squeeze") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a one-element vector to a scalar keeps the dim", opset: 13,
      inputs: [content([seq]), ints([0])], expected: [seq])
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Squeeze")
  }
}
