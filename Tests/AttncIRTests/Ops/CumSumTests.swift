import AttncTensor
import Testing

@testable import AttncIR

@Suite struct CumSumTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps the shape", type: "CumSum", opset: 14,
      inputs: [fact(.float, [batch, seq]), ints([1], scalar: true)],
      expected: .types([TensorType(.float, [batch, seq])])),
    ComputeShapeCase(
      name: "takes an axis known only at run time", type: "CumSum", opset: 14,
      inputs: [fact(.int32, [seq]), fact(.int32, [])], expected: .types([TensorType(.int32, [seq])])
    ),
    ComputeShapeCase(
      name: "refuses an axis out of range", type: "CumSum", opset: 14,
      inputs: [fact(.float, [2, 3]), ints([2], scalar: true)],
      expected: .error("axis 2 is out of range for rank 2")),
    ComputeShapeCase(
      name: "refuses a float axis", type: "CumSum", opset: 14,
      inputs: [fact(.float, [2, 3]), fact(.float, [])],
      expected: .error("input 'axis' must be an int32 or int64 scalar, got float32[]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let x = doubles([1, 2, 3, 4, 5, 6], [2, 3])
  static let axis1 = int64s([1], [])

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "sums along rows", type: "CumSum", opset: 14, inputs: [x, axis1],
      expected: [doubles([1, 3, 6, 4, 9, 15], [2, 3])]),
    ComputeEvalCase(
      name: "sums down columns", type: "CumSum", opset: 14, inputs: [x, int64s([-2], [])],
      expected: [doubles([1, 2, 3, 5, 7, 9], [2, 3])]),
    ComputeEvalCase(
      name: "excludes the element itself", type: "CumSum", attributes: ["exclusive": .int(1)],
      opset: 14, inputs: [x, axis1], expected: [doubles([0, 1, 3, 0, 4, 9], [2, 3])]),
    ComputeEvalCase(
      name: "sums from the end", type: "CumSum", attributes: ["reverse": .int(1)], opset: 14,
      inputs: [x, axis1], expected: [doubles([6, 5, 3, 15, 11, 6], [2, 3])]),
    ComputeEvalCase(
      name: "combines exclusive and reverse", type: "CumSum",
      attributes: ["exclusive": .int(1), "reverse": .int(1)], opset: 14, inputs: [x, axis1],
      expected: [doubles([5, 3, 0, 11, 6, 0], [2, 3])]),
    ComputeEvalCase(
      name: "is exact on int32", type: "CumSum", opset: 14,
      inputs: [typed(.int32, [1, 2, 3], [3]), typed(.int32, [0], [])],
      expected: [typed(.int32, [1, 3, 6], [3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
