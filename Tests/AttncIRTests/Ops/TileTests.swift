import AttncTensor
import Testing

@testable import AttncIR

@Suite struct TileTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "multiplies dims", opset: 13, inputs: [fact(.float, [batch, 3]), ints([2, 1])],
      expected: .dims([[2 * batch, 3]])),
    ShapeCase(
      name: "symbolic repeats", opset: 13, inputs: [fact(.float, [1, 64]), content([seq, 1])],
      expected: .dims([[seq, 64]])),
    ShapeCase(
      name: "unknown repeats give fresh dims", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.int64, [2])], expected: .dims([[fresh, fresh]])),
    ShapeCase(
      name: "refuses repeats of the wrong length", opset: 13,
      inputs: [fact(.float, [2, 3]), ints([2])],
      expected: .error("repeats has 1 entries for rank 2")
    ),
    ShapeCase(
      name: "refuses negative repeats", opset: 13, inputs: [fact(.float, [2, 3]), ints([2, -1])],
      expected: .error("repeats [2, -1] has a negative entry")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Tile") }

  @Test func opset1FormIsNotRegistered() {
    let error = #expect(throws: AttncError.self) {
      try MovementFixtures.op("Tile", [:], opset: 5)
    }
    #expect(error?.code == .unsupported)
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "repeats columns", opset: 13,
      inputs: [floats([1, 2, 3, 4], [2, 2]), int64s([1, 2], [2])],
      expected: [floats([1, 2, 1, 2, 3, 4, 3, 4], [2, 4])]),
    EvalCase(
      name: "repeats rows", opset: 13, inputs: [int64s([1, 2], [1, 2]), int64s([3, 1], [2])],
      expected: [int64s([1, 2, 1, 2, 1, 2], [3, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Tile") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a shape repeated", opset: 13, inputs: [content([batch, seq]), ints([2])],
      expected: [batch, seq, batch, seq])
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Tile")
  }
}
