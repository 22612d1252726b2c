import AttncTensor
import Testing

@testable import AttncIR

@Suite struct DequantizeLinearTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "writes float32", type: "DequantizeLinear", opset: 13,
      inputs: [fact(.int8, [batch, 4]), reals([0.5], scalar: true), constant(typed(.int8, [1], []))],
      expected: .types([TensorType(.float, [batch, 4])])),
    ComputeShapeCase(
      name: "writes the scale's type from opset 19", type: "DequantizeLinear", opset: 19,
      inputs: [fact(.uint8, [4]), fact(.float16, [])], expected: .types([TensorType(.float16, [4])])),
    ComputeShapeCase(
      name: "writes output_dtype", type: "DequantizeLinear", attributes: ["output_dtype": .int(16)], opset: 23,
      inputs: [fact(.int4, [4]), fact(.float, [])], expected: .types([TensorType(.bfloat16, [4])])),
    ComputeShapeCase(
      name: "refuses a zero point of another type", type: "DequantizeLinear", opset: 13,
      inputs: [fact(.int8, [4]), reals([0.5], scalar: true), constant(typed(.uint8, [1], []))],
      expected: .error("x_zero_point is uint8 but x is int8")),
    ComputeShapeCase(
      name: "refuses a zero point on int32", type: "DequantizeLinear", opset: 13,
      inputs: [fact(.int32, [4]), reals([0.5], scalar: true), constant(typed(.int32, [3], []))],
      expected: .error("int32 x takes no zero point (it is 0)")),
    ComputeShapeCase(
      name: "refuses an infinite constant scale", type: "DequantizeLinear", opset: 13,
      inputs: [fact(.int8, [4]), reals([.infinity], scalar: true)], expected: .error("the scale holds inf at index 0")),
    ComputeShapeCase(
      name: "refuses float input", type: "DequantizeLinear", opset: 13,
      inputs: [fact(.float, [4]), reals([1], scalar: true)], expected: .error("input 'x' must be a quantized type, got float32")),
    ComputeShapeCase(
      name: "refuses blocked scales that do not fit", type: "DequantizeLinear",
      attributes: ["axis": .int(1), "block_size": .int(2)], opset: 21,
      inputs: [fact(.uint8, [2, 5]), fact(.float, [2, 2])],
      expected: .error("blocked scale [2, 2] does not fit input [2, 5] with block_size 2 on axis 1: expected [2, 3]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "dequantizes per tensor", type: "DequantizeLinear", opset: 13,
      inputs: [typed(.uint8, [0, 3, 128, 255], [4]), floats([2], []), typed(.uint8, [128], [])],
      expected: [floats([-256, -250, 0, 254], [4])]),
    ComputeEvalCase(
      name: "dequantizes int32 without a zero point", type: "DequantizeLinear", opset: 13,
      inputs: [typed(.int32, [-30, -3, 100], [3]), floats([0.5], [])], expected: [floats([-15, -1.5, 50], [3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
