import AttncTensor
import Testing

@testable import AttncIR

@Suite struct CastLikeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "the dtype of like, the dims of x", opset: 15,
      inputs: [fact(.float, [batch, seq]), fact(.float16, [1])],
      expected: .types([TensorType(.float16, [batch, seq])])),
    ShapeCase(
      name: "refuses a missing like", opset: 15, inputs: [fact(.float, [2])],
      expected: .error("expects 2 inputs, got 1")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("CastLike") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "to an integer", opset: 15,
      inputs: [floats([1.5, -1.5], [2]), HostTensor(dtype: .int32, shape: [0], integers: [])],
      expected: [HostTensor(dtype: .int32, shape: [2], integers: [1, -1])]),
    EvalCase(
      name: "without saturate", attributes: ["saturate": .int(0)], opset: 19,
      inputs: [
        floats([1e6, 0.5], [2]), HostTensor(dtype: .float8e5m2, shape: [1], converting: [0]),
      ],
      expected: [HostTensor(dtype: .float8e5m2, shape: [2], converting: [.infinity, 0.5])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("CastLike") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "integer dims pass through", opset: 15,
      inputs: [content([batch, seq]), fact(.int32, [1])], expected: [batch, seq]),
    ContentCase(
      name: "not to floats", opset: 15, inputs: [content([batch]), fact(.float, [1])],
      expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("CastLike")
  }
}
