import AttncTensor
import Testing

@testable import AttncIR

@Suite struct QuantizeLinearTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "writes uint8 without a zero point", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [batch, seq, 8]), reals([0.1], scalar: true)],
      expected: .types([TensorType(.uint8, [batch, seq, 8])])),
    ComputeShapeCase(
      name: "writes the zero point's type", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [2, 3]), reals([0.1, 0.2, 0.3]), constant(typed(.int8, [0, 1, 2], [3]))],
      expected: .types([TensorType(.int8, [2, 3])])),
    ComputeShapeCase(
      name: "writes output_dtype", type: "QuantizeLinear", attributes: ["output_dtype": .int(5)], opset: 21,
      inputs: [fact(.float, [4]), reals([0.1], scalar: true)], expected: .types([TensorType(.int16, [4])])),
    ComputeShapeCase(
      name: "takes blocked scales", type: "QuantizeLinear", attributes: ["axis": .int(1), "block_size": .int(2)],
      opset: 21, inputs: [fact(.float, [2, 5]), fact(.float, [2, 3]), fact(.int4, [2, 3])],
      expected: .types([TensorType(.int4, [2, 5])])),
    ComputeShapeCase(
      name: "refuses a zero point that disagrees with output_dtype", type: "QuantizeLinear",
      attributes: ["output_dtype": .int(3)], opset: 21,
      inputs: [fact(.float, [4]), reals([0.1], scalar: true), constant(typed(.uint8, [0], []))],
      expected: .error("y_zero_point is uint8 but output_dtype is int8")),
    ComputeShapeCase(
      name: "refuses a non-quantized output type", type: "QuantizeLinear", attributes: ["output_dtype": .int(7)],
      opset: 21, inputs: [fact(.float, [4]), reals([0.1], scalar: true)],
      expected: .error("int64 is not a quantized type (int8, uint8, int16, uint16, int4, uint4, int2, uint2, float8, float4)")),
    ComputeShapeCase(
      name: "refuses per-axis scales before opset 13", type: "QuantizeLinear", opset: 10,
      inputs: [fact(.float, [2, 3]), reals([0.1, 0.2, 0.3])],
      expected: .error("a scale of shape [3] needs opset 13 (per axis); the model has 10")),
    ComputeShapeCase(
      name: "refuses a scale that does not fit the axis", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [2, 3]), reals([0.1, 0.2])],
      expected: .error("scale [2] is neither a scalar nor a 1-D tensor of input [2, 3]'s 3 elements along axis 1")),
    ComputeShapeCase(
      name: "refuses zero points of another shape", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [2, 3]), reals([0.1, 0.2, 0.3]), constant(typed(.uint8, [0, 1], [2]))],
      expected: .error("zero point [2] and scale [3] differ in shape")),
    ComputeShapeCase(
      name: "refuses a constant scale of 0", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [2, 3]), reals([0.1, 0, 0.3])],
      expected: .error("the scale holds 0 at index 1: quantizing divides by it")),
    ComputeShapeCase(
      name: "refuses a NaN scale", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.float, [2]), reals([.nan], scalar: true)], expected: .error("the scale holds nan at index 0")),
    ComputeShapeCase(
      name: "refuses int64 input", type: "QuantizeLinear", opset: 13,
      inputs: [fact(.int64, [2]), reals([1], scalar: true)], expected: .error("input 'x' must be a float type or int32, got int64")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    // ONNX's per-axis example: scales [2, 4, 5], zero points [84, 24, 196] along axis 1.
    ComputeEvalCase(
      name: "quantizes per axis", type: "QuantizeLinear", opset: 13,
      inputs: [
        floats([-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960, -270, -375, -470], [1, 3, 3, 2]),
        floats([2, 4, 5], [3]), typed(.uint8, [84, 24, 196], [3]),
      ],
      expected: [typed(.uint8, [3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102], [1, 3, 3, 2])]),
    ComputeEvalCase(
      name: "rounds half to even and saturates", type: "QuantizeLinear", opset: 13,
      inputs: [floats([0.5, 1.5, 2.5, -300, 300, .nan], [6]), floats([1], []), typed(.int8, [0], [])],
      expected: [typed(.int8, [0, 2, 2, -128, 127, -128], [6])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
