import AttncTensor
import Testing

@testable import AttncIR

@Suite struct SplitTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "equal parts of a symbolic axis", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, 2 * seq])], outputs: 2,
      expected: .dims([[batch, seq], [batch, seq]])),
    ShapeCase(
      name: "sizes from a constant input", opset: 13,
      inputs: [fact(.float, [6, seq]), ints([2, 4])],
      outputs: 2, expected: .dims([[2, seq], [4, seq]])),
    ShapeCase(
      name: "opset 11 reads the attribute", attributes: ["split": .ints([1, 2])], opset: 11,
      inputs: [fact(.float, [3])], outputs: 2, expected: .dims([[1], [2]])),
    ShapeCase(
      name: "num_outputs leaves a smaller last part", attributes: ["num_outputs": .int(3)],
      opset: 18, inputs: [fact(.float, [7])], outputs: 3, expected: .dims([[3], [3], [1]])),
    ShapeCase(
      name: "num_outputs on a symbolic axis stays exact", attributes: ["num_outputs": .int(2)],
      opset: 18, inputs: [fact(.float, [seq])], outputs: 2,
      expected: .dims([[(seq + 1).floorDivided(by: 2)], [seq - (seq + 1).floorDivided(by: 2)]])),
    ShapeCase(
      name: "unknown sizes give fresh dims on the axis", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [2, 6]), fact(.int64, [2])], outputs: 2,
      expected: .dims([[2, fresh], [2, fresh]])),
    ShapeCase(
      name: "refuses sizes that do not add up", opset: 13,
      inputs: [fact(.float, [5]), ints([2, 2])],
      outputs: 2, expected: .error("split [2, 2] does not add up to the axis size 5")),
    ShapeCase(
      name: "refuses an uneven equal split", opset: 13, inputs: [fact(.float, [5])], outputs: 2,
      expected: .error("axis size 5 is not divisible into 2 equal parts")),
    ShapeCase(
      name: "refuses a split of the wrong length", opset: 13,
      inputs: [fact(.float, [6]), ints([2, 2, 2])], outputs: 2,
      expected: .error("split has 3 entries for 2 outputs")),
    ShapeCase(
      name: "refuses num_outputs unlike the node", attributes: ["num_outputs": .int(3)], opset: 18,
      inputs: [fact(.float, [6])], outputs: 2,
      expected: .error("num_outputs 3 but the node has 2 outputs")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Split") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "variable parts", opset: 13,
      inputs: [floats([1, 2, 3, 4, 5, 6], [6]), int64s([2, 4], [2])],
      expected: [floats([1, 2], [2]), floats([3, 4, 5, 6], [4])]),
    EvalCase(
      name: "equal parts on axis 1", attributes: ["axis": .int(1)], opset: 13,
      inputs: [int64s([1, 2, 3, 4, 5, 6, 7, 8], [2, 4])],
      expected: [int64s([1, 2, 5, 6], [2, 2]), int64s([3, 4, 7, 8], [2, 2])]),
    EvalCase(
      name: "uneven num_outputs", attributes: ["num_outputs": .int(3)], opset: 18,
      inputs: [floats([1, 2, 3, 4, 5, 6, 7], [7])],
      expected: [floats([1, 2, 3], [3]), floats([4, 5, 6], [3]), floats([7], [1])]),
    EvalCase(
      name: "zero-size parts", opset: 13, inputs: [floats([1, 2], [2]), int64s([0, 2, 0], [3])],
      expected: [floats([], [0]), floats([1, 2], [2]), floats([], [0])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Split") }
}
