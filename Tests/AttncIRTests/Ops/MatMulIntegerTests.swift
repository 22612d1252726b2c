import AttncTensor
import Testing

@testable import AttncIR

@Suite struct MatMulIntegerTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "multiplies uint8 by int8 into int32", type: "MatMulInteger", opset: 10,
      inputs: [fact(.uint8, [batch, seq, 64]), fact(.int8, [64, 32]), fact(.uint8, []), fact(.int8, [])],
      expected: .types([TensorType(.int32, [batch, seq, 32])])),
    ComputeShapeCase(
      name: "takes per-row and per-column zero points", type: "MatMulInteger", opset: 10,
      inputs: [fact(.int8, [4, 3]), fact(.uint8, [3, 2]), fact(.int8, [4]), fact(.uint8, [2])], expected: .dims([[4, 2]])),
    ComputeShapeCase(
      name: "refuses 16-bit operands", type: "MatMulInteger", opset: 10,
      inputs: [fact(.int16, [4, 3]), fact(.int8, [3, 2])], expected: .error("input 'A' must be int8 or uint8, got int16")),
    ComputeShapeCase(
      name: "refuses a zero point of the other type", type: "MatMulInteger", opset: 10,
      inputs: [fact(.uint8, [4, 3]), fact(.int8, [3, 2]), fact(.int8, [])],
      expected: .error("a_zero_point is int8 but A is uint8")),
    ComputeShapeCase(
      name: "refuses inner dims that differ", type: "MatMulInteger", opset: 10,
      inputs: [fact(.uint8, [4, 3]), fact(.int8, [5, 2])], expected: .error("inner dims [4, 3] × [5, 2] differ: 3 and 5")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    // ONNX's example.
    ComputeEvalCase(
      name: "multiplies with zero points", type: "MatMulInteger", opset: 10,
      inputs: [
        typed(.uint8, [11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0], [4, 3]), typed(.uint8, [1, 4, 2, 5, 3, 6], [3, 2]),
        typed(.uint8, [12], []), typed(.uint8, [0], []),
      ],
      expected: [typed(.int32, [-38, -83, -44, -98, -50, -113, -56, -128], [4, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
