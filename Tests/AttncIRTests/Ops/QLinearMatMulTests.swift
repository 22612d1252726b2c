import AttncTensor
import Testing

@testable import AttncIR

@Suite struct QLinearMatMulTests: UsesComputeFixtures {
  static func operands(_ a: DType, _ b: DType, _ y: DType, yScale: ValueFact = reals([0.5], scalar: true)) -> [ValueFact?] {
    [fact(a, [2, 4]), reals([0.1], scalar: true), fact(a, []), fact(b, [4, 3]), reals([0.2], scalar: true), fact(b, []),
     yScale, fact(y, [])]
  }

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "writes the output zero point's type", type: "QLinearMatMul", opset: 10,
      inputs: operands(.uint8, .int8, .int8), expected: .types([TensorType(.int8, [2, 3])])),
    ComputeShapeCase(
      name: "refuses a float8 output", type: "QLinearMatMul", opset: 21,
      inputs: operands(.uint8, .uint8, .float8e4m3fn), expected: .error("y_zero_point must be int8 or uint8, got float8e4m3fn")),
    ComputeShapeCase(
      name: "refuses a constant y_scale of 0", type: "QLinearMatMul", opset: 10,
      inputs: operands(.uint8, .uint8, .uint8, yScale: reals([0], scalar: true)),
      expected: .error("the scale holds 0 at index 0: quantizing divides by it")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    // ONNX's 2-D uint8 example.
    ComputeEvalCase(
      name: "requantizes the product", type: "QLinearMatMul", opset: 10,
      inputs: [
        typed(.uint8, [208, 236, 0, 238, 3, 214, 255, 29], [2, 4]), floats([0.0066], []), typed(.uint8, [113], []),
        typed(.uint8, [152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247], [4, 3]), floats([0.00705], []),
        typed(.uint8, [114], []), floats([0.0107], []), typed(.uint8, [118], []),
      ],
      expected: [typed(.uint8, [168, 115, 255, 1, 66, 151], [2, 3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
