import AttncTensor
import Testing

@testable import AttncIR

@Suite struct MatMulTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "multiplies attention scores", type: "MatMul", opset: 13,
      inputs: [fact(.float, [batch, 12, seq, 64]), fact(.float, [batch, 12, 64, seq])],
      expected: .types([TensorType(.float, [batch, 12, seq, seq])])),
    ComputeShapeCase(
      name: "broadcasts batch axes", type: "MatMul", opset: 13,
      inputs: [fact(.float, [3, 1, 3, 4]), fact(.float, [1, 2, 4, 2])],
      expected: .dims([[3, 2, 3, 2]])),
    ComputeShapeCase(
      name: "projects with a weight matrix", type: "MatMul", opset: 13,
      inputs: [fact(.float16, [batch, seq, 768]), fact(.float16, [768, 3072])],
      expected: .types([TensorType(.float16, [batch, seq, 3072])])),
    ComputeShapeCase(
      name: "drops the axes of two vectors", type: "MatMul", opset: 13,
      inputs: [fact(.float, [3]), fact(.float, [3])], expected: .dims([[]])),
    ComputeShapeCase(
      name: "reads a 1-D left operand as a row", type: "MatMul", opset: 13,
      inputs: [fact(.float, [4]), fact(.float, [2, 4, 1])], expected: .dims([[2, 1]])),
    ComputeShapeCase(
      name: "reads a 1-D right operand as a column", type: "MatMul", opset: 13,
      inputs: [fact(.float, [1, 2, 4, 3]), fact(.float, [3])], expected: .dims([[1, 2, 4]])),
    ComputeShapeCase(
      name: "takes a symbolic inner dim", type: "MatMul", opset: 13,
      inputs: [fact(.float, [2, seq]), fact(.float, [seq, 5])], expected: .dims([[2, 5]])),
    ComputeShapeCase(
      name: "refuses mismatched inner dims", type: "MatMul", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [4, 5])],
      expected: .error("inner dims [2, 3] × [4, 5] differ: 3 and 4")),
    ComputeShapeCase(
      name: "refuses batch axes that do not broadcast", type: "MatMul", opset: 13,
      inputs: [fact(.float, [2, 3, 4]), fact(.float, [3, 4, 5])],
      expected: .error("cannot broadcast [2] with [3]")),
    ComputeShapeCase(
      name: "refuses scalars", type: "MatMul", opset: 13,
      inputs: [fact(.float, []), fact(.float, [3])],
      expected: .error("inputs must have rank ≥ 1, got ranks 0 and 1")),
    ComputeShapeCase(
      name: "refuses mixed types", type: "MatMul", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.double, [3, 2])],
      expected: .error("input types differ: float32 and float64")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "multiplies matrices", type: "MatMul", opset: 13,
      inputs: [floats([1, 2, 3, 4, 5, 6], [2, 3]), floats([1, 0, 0, 1, 1, 1], [3, 2])],
      expected: [floats([4, 5, 10, 11], [2, 2])]),
    ComputeEvalCase(
      name: "takes a dot product", type: "MatMul", opset: 13,
      inputs: [floats([1, 2, 3], [3]), floats([4, 5, 6], [3])], expected: [floats([32], [])]),
    ComputeEvalCase(
      name: "broadcasts a matrix over a batch", type: "MatMul", opset: 13,
      inputs: [floats([1, 2, 3, 4], [2, 1, 2]), floats([1, 1, 2, 2], [2, 2])],
      expected: [floats([5, 5, 11, 11], [2, 1, 2])]),
    ComputeEvalCase(
      name: "is exact on int64", type: "MatMul", opset: 13,
      inputs: [int64s([4_503_599_627_370_497, 1], [1, 2]), int64s([2, 1], [2, 1])],
      expected: [int64s([9_007_199_254_740_995], [1, 1])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
