import AttncTensor
import Testing

@testable import AttncIR

@Suite struct TopKTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "a constant k sets the axis", attributes: ["axis": .int(1)], opset: 11,
      inputs: [fact(.float, [batch, 9]), constant(int64s([3], [1]))], expected: .dims([[batch, 3], [batch, 3]])),
    ShapeCase(
      name: "refuses k above the axis", opset: 11,
      inputs: [fact(.float, [2, 4]), constant(int64s([5], [1]))], expected: .error("k = 5 is outside 0...4 on axis 1")),
    ShapeCase(
      name: "refuses a float k", opset: 11,
      inputs: [fact(.float, [2, 4]), fact(.float, [1])], expected: .error("k must be an int64 [1] tensor, got float32[1]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws {
    try c.check("TopK")
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "largest first, equal values by the lower index", opset: 11,
      inputs: [floats([2, 7, 7, -.infinity, 2, 7], [1, 6]), int64s([4], [1])],
      expected: [floats([7, 7, 7, 2], [1, 4]), int64s([1, 2, 5, 0], [1, 4])]),
    EvalCase(
      name: "smallest along axis 0", attributes: ["axis": .int(0), "largest": .int(0)], opset: 11,
      inputs: [floats([3, 1, 2, 1, 1, 0], [3, 2]), int64s([2], [1])],
      expected: [floats([1, 0, 2, 1], [2, 2]), int64s([2, 2, 1, 0], [2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws {
    try c.check("TopK")
  }
}
