import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ArgMaxTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "keeps the axis as 1", attributes: ["axis": .int(2)], opset: 13,
      inputs: [fact(.float, [batch, seq, 4])], expected: .dims([[batch, seq, 1]])),
    ShapeCase(
      name: "removes the axis without keepdims", attributes: ["axis": .int(-1), "keepdims": .int(0)], opset: 13,
      inputs: [fact(.float, [batch, seq, 4])], expected: .dims([[batch, seq]])),
    ShapeCase(
      name: "refuses an axis out of range", attributes: ["axis": .int(3)], opset: 13,
      inputs: [fact(.float, [2, 2])], expected: .error("axis 3 is out of range for rank 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws {
    try c.check("ArgMax")
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "ties go to the first index", attributes: ["axis": .int(1), "keepdims": .int(0)], opset: 13,
      inputs: [floats([1, 3, 3, 0, 5, -.infinity, 5, 2], [2, 4])], expected: [int64s([1, 0], [2])]),
    EvalCase(
      name: "ties go to the last index with select_last_index", attributes: ["axis": .int(1), "select_last_index": .int(1)],
      opset: 13, inputs: [floats([1, 3, 3, 0, 5, -.infinity, 5, 2], [2, 4])], expected: [int64s([2, 2], [2, 1])]),
    EvalCase(
      name: "along axis 0 of integers", opset: 13, inputs: [int64s([1, 9, 7, 2], [2, 2])], expected: [int64s([1, 0], [1, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws {
    try c.check("ArgMax")
  }
}
