import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConcatTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "adds symbolic dims on the axis", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, past, 64]), fact(.float, [batch, seq, 64])],
      expected: .dims([[batch, past + seq, 64]])),
    ShapeCase(
      name: "negative axis", attributes: ["axis": .int(-1)], opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [2, 4]), fact(.float, [2, 1])],
      expected: .dims([[2, 8]])),
    ShapeCase(
      name: "a constant settles a symbolic dim off the axis", attributes: ["axis": .int(1)],
      opset: 13, inputs: [fact(.float, [batch, 3]), fact(.float, [2, 3])],
      expected: .dims([[2, 6]])),
    ShapeCase(
      name: "refuses different dtypes", attributes: ["axis": .int(0)], opset: 13,
      inputs: [fact(.int64, [2]), fact(.int32, [2])],
      expected: .error("input 1 has type int32 but input 0 has int64")),
    ShapeCase(
      name: "refuses different ranks", attributes: ["axis": .int(0)], opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [2])],
      expected: .error("input 1 has rank 1 but input 0 has rank 2")),
    ShapeCase(
      name: "refuses different dims off the axis", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [3, 3])],
      expected: .error("dims on axis 0 of inputs 0 and 1 differ: 2 and 3")),
    ShapeCase(
      name: "refuses an axis out of range", attributes: ["axis": .int(2)], opset: 13,
      inputs: [fact(.float, [2, 3])], expected: .error("axis 2 is out of range for rank 2")),
    ShapeCase(
      name: "opset 1 defaults to axis 1", opset: 1,
      inputs: [fact(.float, [2, 3]), fact(.float, [2, 1])], expected: .dims([[2, 4]])),
    ShapeCase(
      name: "needs the axis attribute", opset: 13, inputs: [fact(.float, [2])],
      expected: .error("attribute 'axis' is required")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Concat") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "joins rows", attributes: ["axis": .int(0)], opset: 13,
      inputs: [floats([1, 2], [1, 2]), floats([3, 4, 5, 6], [2, 2])],
      expected: [floats([1, 2, 3, 4, 5, 6], [3, 2])]),
    EvalCase(
      name: "joins columns", attributes: ["axis": .int(1)], opset: 13,
      inputs: [int64s([1, 2], [2, 1]), int64s([3, 4, 5, 6], [2, 2])],
      expected: [int64s([1, 3, 4, 2, 5, 6], [2, 3])]),
    EvalCase(
      name: "joins strings", attributes: ["axis": .int(0)], opset: 13,
      inputs: [
        HostTensor(strings: ["a"], shape: [1]), HostTensor(strings: ["b", "c"], shape: [2]),
      ],
      expected: [HostTensor(strings: ["a", "b", "c"], shape: [3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Concat") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "assembles a shape", attributes: ["axis": .int(0)], opset: 13,
      inputs: [content([batch]), content([seq]), ints([12, 64])], expected: [batch, seq, 12, 64]),
    ContentCase(
      name: "unknown if any part is unknown", attributes: ["axis": .int(0)], opset: 13,
      inputs: [content([batch]), fact(.int64, [1])], expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Concat")
  }
}
