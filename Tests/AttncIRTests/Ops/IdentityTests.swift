import AttncTensor
import Testing

@testable import AttncIR

@Suite struct IdentityTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "keeps type and symbolic dims", opset: 16, inputs: [fact(.float16, [batch, seq])],
      expected: .types([TensorType(.float16, [batch, seq])])),
    ShapeCase(
      name: "refuses a missing input", opset: 16, inputs: [nil],
      expected: .error("input 0 is required")),
    ShapeCase(
      name: "refuses two inputs", opset: 16, inputs: [fact(.float, [1]), fact(.float, [1])],
      expected: .error("expects 1 inputs, got 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Identity") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "returns its input", opset: 16, inputs: [floats([1, -2], [2])],
      expected: [floats([1, -2], [2])]),
    EvalCase(
      name: "passes strings", opset: 16, inputs: [HostTensor(strings: ["a", "b"], shape: [2])],
      expected: [HostTensor(strings: ["a", "b"], shape: [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Identity") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "passes the content", opset: 16, inputs: [content([batch, seq])],
      expected: [batch, seq]
    ),
    ContentCase(
      name: "unknown stays unknown", opset: 16, inputs: [fact(.int64, [2])], expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Identity")
  }
}
