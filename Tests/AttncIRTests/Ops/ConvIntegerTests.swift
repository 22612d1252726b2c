import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConvIntegerTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "convolves into int32", type: "ConvInteger", attributes: ["pads": .ints([1, 1, 1, 1])], opset: 10,
      inputs: [fact(.uint8, [1, 1, 3, 3]), fact(.uint8, [1, 1, 2, 2]), fact(.uint8, [])],
      expected: .types([TensorType(.int32, [1, 1, 4, 4])])),
    ComputeShapeCase(
      name: "refuses float input", type: "ConvInteger", opset: 10,
      inputs: [fact(.float, [1, 1, 3, 3]), fact(.uint8, [1, 1, 2, 2])], expected: .error("input 'x' must be int8 or uint8, got float32")),
    ComputeShapeCase(
      name: "QLinearConv writes y's type", type: "QLinearConv", opset: 10,
      inputs: [fact(.uint8, [1, 2, 5, 5]), reals([0.1], scalar: true), fact(.uint8, []), fact(.int8, [4, 2, 3, 3]),
               reals([0.1, 0.2, 0.3, 0.4]), fact(.int8, [4]), reals([0.5], scalar: true), fact(.int8, []), fact(.int32, [4])],
      expected: .types([TensorType(.int8, [1, 4, 3, 3])])),
    ComputeShapeCase(
      name: "QLinearConv refuses a float bias", type: "QLinearConv", opset: 10,
      inputs: [fact(.uint8, [1, 2, 5, 5]), reals([0.1], scalar: true), fact(.uint8, []), fact(.int8, [4, 2, 3, 3]),
               reals([0.1], scalar: true), fact(.int8, []), reals([0.5], scalar: true), fact(.int8, []), fact(.float, [4])],
      expected: .error("input 'B' must be int32, got float32")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    // ONNX's example with padding: the padding holds x's zero point (a difference of 0).
    ComputeEvalCase(
      name: "pads with the zero point", type: "ConvInteger", attributes: ["pads": .ints([1, 1, 1, 1])], opset: 10,
      inputs: [typed(.uint8, [2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 1, 3, 3]), typed(.uint8, [1, 1, 1, 1], [1, 1, 2, 2]), typed(.uint8, [1], [])],
      expected: [typed(.int32, [1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9], [1, 1, 4, 4])]),
    ComputeEvalCase(
      name: "QLinearConv requantizes per channel with the bias", type: "QLinearConv", opset: 10,
      inputs: [
        typed(.uint8, [10, 20, 30, 40], [1, 1, 2, 2]), floats([0.5], []), typed(.uint8, [10], []),
        typed(.int8, [1, -1], [2, 1, 1, 1]), floats([1, 2], [2]), typed(.int8, [0, 0], [2]), floats([2], []),
        typed(.int8, [1], []), typed(.int32, [4, -4], [2]),
      ],
      // Channel 0: (x − 10 + 4) · 0.5 · 1 / 2 + 1; channel 1: (−(x − 10) − 4) · 0.5 · 2 / 2 + 1, half to even.
      expected: [typed(.int8, [2, 4, 7, 10, -1, -6, -11, -16], [1, 2, 2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
