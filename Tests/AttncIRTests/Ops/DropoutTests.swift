import AttncTensor
import Testing

@testable import AttncIR

@Suite struct DropoutTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "output only", opset: 13, inputs: [fact(.float, [batch, seq])],
      expected: .types([TensorType(.float, [batch, seq])])),
    ShapeCase(
      name: "a bool mask from opset 10", opset: 13,
      inputs: [fact(.float, [batch, seq]), fact(.float, []), fact(.bool, [])], outputs: 2,
      expected: .types([TensorType(.float, [batch, seq]), TensorType(.bool, [batch, seq])])),
    ShapeCase(
      name: "a mask of the data's type before opset 10", opset: 7,
      inputs: [fact(.float16, [3])], outputs: 2,
      expected: .types([TensorType(.float16, [3]), TensorType(.float16, [3])])),
    ShapeCase(
      name: "refuses a non-bool training_mode", opset: 13,
      inputs: [fact(.float, [3]), nil, fact(.int64, [])],
      expected: .error("training_mode must be bool, got int64")),
    ShapeCase(
      name: "refuses a vector ratio", opset: 13, inputs: [fact(.float, [3]), fact(.float, [1])],
      expected: .error("ratio must be a scalar, got rank 1")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Dropout") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "inference passes the data", opset: 13,
      inputs: [floats([1, 2, 3], [3]), floats([0.5], [])],
      expected: [floats([1, 2, 3], [3]), bools([true, true, true], [3])]),
    EvalCase(
      name: "training with ratio 0 passes the data", opset: 13,
      inputs: [floats([1, 2], [2]), floats([0], []), bools([true], [])],
      expected: [floats([1, 2], [2]), bools([true, true], [2])]),
    EvalCase(
      name: "opset 7 mask of ones", opset: 7, inputs: [floats([4], [1])],
      expected: [floats([4], [1]), floats([1], [1])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Dropout") }

  @Test func trainingWithARatioIsNotEvaluated() throws {
    let op = try #require(try MovementFixtures.op("Dropout", [:], opset: 13) as? any Lowerable)
    let error = #expect(throws: AttncError.self) {
      try op.evaluate([floats([1], [1]), nil, bools([true], [])], outputCount: 1)
    }
    #expect(error?.code == .unsupported)
  }
}
