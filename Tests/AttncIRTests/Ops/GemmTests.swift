import AttncTensor
import Testing

@testable import AttncIR

@Suite struct GemmTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "projects a batch", type: "Gemm", attributes: ["transB": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, 768]), fact(.float, [3072, 768]), fact(.float, [3072])],
      expected: .types([TensorType(.float, [batch, 3072])])),
    ComputeShapeCase(
      name: "transposes A", type: "Gemm", attributes: ["transA": .int(1)], opset: 13,
      inputs: [fact(.float, [6, 3]), fact(.float, [6, 4])], expected: .dims([[3, 4]])),
    ComputeShapeCase(
      name: "takes a scalar C", type: "Gemm", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [3, 4]), fact(.float, [])],
      expected: .dims([[2, 4]])),
    ComputeShapeCase(
      name: "takes a column C", type: "Gemm", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [3, 4]), fact(.float, [2, 1])],
      expected: .dims([[2, 4]])),
    ComputeShapeCase(
      name: "needs C before opset 11", type: "Gemm", opset: 9,
      inputs: [fact(.float, [2, 3]), fact(.float, [3, 4])],
      expected: .error("expects 3 inputs, got 2")),
    ComputeShapeCase(
      name: "refuses a C that would grow the output", type: "Gemm", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [3, 4]), fact(.float, [3, 2, 4])],
      expected: .error("input 'C' of shape [3, 2, 4] does not broadcast to [2, 4]")),
    ComputeShapeCase(
      name: "refuses mismatched inner dims", type: "Gemm", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [4, 5])],
      expected: .error("inner dims of A and B differ: 3 and 4")),
    ComputeShapeCase(
      name: "refuses a 3-D A", type: "Gemm", opset: 13,
      inputs: [fact(.float, [1, 2, 3]), fact(.float, [3, 4])],
      expected: .error("input 'A' must have rank 2, got rank 3")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "scales the product and the bias", type: "Gemm",
      attributes: ["alpha": .float(0.5), "beta": .float(2)], opset: 13,
      inputs: [
        floats([1, 2, 3, 4], [2, 2]), floats([1, 0, 0, 1], [2, 2]), floats([1, 10], [2]),
      ],
      expected: [floats([2.5, 21, 3.5, 22], [2, 2])]),
    ComputeEvalCase(
      name: "transposes both operands", type: "Gemm",
      attributes: ["transA": .int(1), "transB": .int(1)], opset: 13,
      inputs: [floats([1, 2, 3, 4, 5, 6], [3, 2]), floats([1, 1, 1, 0, 0, 1], [2, 3])],
      expected: [floats([9, 5, 12, 6], [2, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
