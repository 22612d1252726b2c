import AttncTensor
import Testing

@testable import AttncIR

@Suite struct GatherElementsTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "the dims of indices", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, seq]), fact(.int64, [batch, 1])],
      expected: .dims([[batch, 1]])),
    ShapeCase(
      name: "refuses indices of another rank", opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [2])],
      expected: .error("indices have rank 1 but data has rank 2")),
    ShapeCase(
      name: "refuses an axis out of range", attributes: ["axis": .int(-3)], opset: 13,
      inputs: [fact(.float, [2, 2]), fact(.int64, [2, 2])],
      expected: .error("axis -3 is out of range for rank 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws {
    try c.check("GatherElements")
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "along axis 1", attributes: ["axis": .int(1)], opset: 13,
      inputs: [floats([1, 2, 3, 4], [2, 2]), int64s([0, 0, 1, 0], [2, 2])],
      expected: [floats([1, 1, 4, 3], [2, 2])]),
    EvalCase(
      name: "along axis 0 with a negative index", opset: 13,
      inputs: [int64s([1, 2, 3, 4, 5, 6], [3, 2]), int64s([-1, 0], [1, 2])],
      expected: [int64s([5, 2], [1, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws {
    try c.check("GatherElements")
  }

  @Test func evaluationRefusesAnIndexOutOfRange() throws {
    let op = try #require(
      try MovementFixtures.op("GatherElements", ["axis": .int(1)], opset: 13) as? any Lowerable)
    #expect(throws: AttncError.invalid("index 2 is out of range for axis 1 of size 2")) {
      try op.evaluate([floats([1, 2], [1, 2]), int64s([0, 2], [1, 2])], outputCount: 1)
    }
    #expect(throws: AttncError.invalid("indices have 2 entries on axis 0 but data has 1")) {
      try op.evaluate([floats([1, 2], [1, 2]), int64s([0, 0], [2, 1])], outputCount: 1)
    }
  }
}
