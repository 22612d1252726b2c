import AttncTensor
import Testing

@testable import AttncIR

@Suite struct FlattenTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "axis 1 by default", opset: 13, inputs: [fact(.float, [batch, 3, 4])],
      expected: .dims([[batch, 12]])),
    ShapeCase(
      name: "multiplies symbolic dims", attributes: ["axis": .int(2)], opset: 13,
      inputs: [fact(.float, [batch, seq, 12, 64])], expected: .dims([[batch * seq, 768]])),
    ShapeCase(
      name: "axis 0 puts everything second", attributes: ["axis": .int(0)], opset: 13,
      inputs: [fact(.float, [2, seq])], expected: .dims([[1, 2 * seq]])),
    ShapeCase(
      name: "axis may equal the rank", attributes: ["axis": .int(2)], opset: 13,
      inputs: [fact(.float, [2, seq])], expected: .dims([[2 * seq, 1]])),
    ShapeCase(
      name: "negative axis", attributes: ["axis": .int(-1)], opset: 13,
      inputs: [fact(.float, [2, 3, seq])], expected: .dims([[6, seq]])),
    ShapeCase(
      name: "refuses an axis past the rank", attributes: ["axis": .int(4)], opset: 13,
      inputs: [fact(.float, [2, 3, 4])], expected: .error("axis 4 is out of range for rank 3")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Flatten") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "keeps the element order", attributes: ["axis": .int(2)], opset: 13,
      inputs: [int64s(Array(0..<8), [2, 2, 2])], expected: [int64s(Array(0..<8), [4, 2])]),
    EvalCase(
      name: "a scalar at axis 0", attributes: ["axis": .int(0)], opset: 13,
      inputs: [floats([5], [])], expected: [floats([5], [1, 1])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Flatten") }
}
