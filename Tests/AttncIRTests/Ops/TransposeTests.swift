import AttncTensor
import Testing

@testable import AttncIR

@Suite struct TransposeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "reverses by default", opset: 13, inputs: [fact(.float, [batch, seq, 768])],
      expected: .dims([[768, seq, batch]])),
    ShapeCase(
      name: "splits heads", attributes: ["perm": .ints([0, 2, 1, 3])], opset: 13,
      inputs: [fact(.float, [batch, seq, 12, 64])], expected: .dims([[batch, 12, seq, 64]])),
    ShapeCase(
      name: "accepts negative entries", attributes: ["perm": .ints([0, -1, 1])], opset: 13,
      inputs: [fact(.float, [batch, seq, 64])], expected: .dims([[batch, 64, seq]])),
    ShapeCase(
      name: "refuses a short perm", attributes: ["perm": .ints([0, 2])], opset: 13,
      inputs: [fact(.float, [2, 3, 4])], expected: .error("perm [0, 2] has 2 entries for rank 3")),
    ShapeCase(
      name: "refuses a repeated axis", attributes: ["perm": .ints([0, 0, 1])], opset: 13,
      inputs: [fact(.float, [2, 3, 4])], expected: .error("perm [0, 0, 1] is not a permutation")),
    ShapeCase(
      name: "refuses an axis out of range", attributes: ["perm": .ints([0, 3, 1])], opset: 13,
      inputs: [fact(.float, [2, 3, 4])], expected: .error("axis 3 is out of range for rank 3")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Transpose") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "transposes a matrix", opset: 13, inputs: [floats([1, 2, 3, 4, 5, 6], [2, 3])],
      expected: [floats([1, 4, 2, 5, 3, 6], [3, 2])]),
    EvalCase(
      name: "permutes three axes", attributes: ["perm": .ints([1, 2, 0])], opset: 13,
      inputs: [int64s([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2])],
      expected: [int64s([0, 4, 1, 5, 2, 6, 3, 7], [2, 2, 2])]),
    EvalCase(
      name: "moves strings", opset: 13,
      inputs: [HostTensor(strings: ["a", "b", "c", "d"], shape: [2, 2])],
      expected: [HostTensor(strings: ["a", "c", "b", "d"], shape: [2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Transpose") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a vector is its own transpose", opset: 13, inputs: [content([batch, seq])],
      expected: [batch, seq])
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Transpose")
  }
}
