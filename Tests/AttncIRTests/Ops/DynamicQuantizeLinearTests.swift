import AttncTensor
import Testing

@testable import AttncIR

@Suite struct DynamicQuantizeLinearTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "gives uint8 values, a scale and a zero point", type: "DynamicQuantizeLinear", opset: 11,
      inputs: [fact(.float, [batch, seq, 32])], outputs: 3,
      expected: .types([TensorType(.uint8, [batch, seq, 32]), TensorType(.float, []), TensorType(.uint8, [])])),
    ComputeShapeCase(
      name: "refuses float16", type: "DynamicQuantizeLinear", opset: 11, inputs: [fact(.float16, [3])], outputs: 3,
      expected: .error("input 'x' must be float32, got float16")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    // ONNX's example: range [-2.5, 1000] (widened to 0): scale 1002.5/255, zero point 1.
    ComputeEvalCase(
      name: "quantizes with its own range", type: "DynamicQuantizeLinear", opset: 11,
      inputs: [floats([0, 2, -3, -2.5, 1.34, 0.5], [6])],
      expected: [typed(.uint8, [153, 255, 0, 26, 221, 179], [6]), floats([0.019607844], []), typed(.uint8, [153], [])]),
    ComputeEvalCase(
      name: "gives scale 1 for zeros", type: "DynamicQuantizeLinear", opset: 11,
      inputs: [floats([0, 0], [2])], expected: [typed(.uint8, [0, 0], [2]), floats([1], []), typed(.uint8, [0], [])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
