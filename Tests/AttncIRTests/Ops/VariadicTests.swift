import AttncTensor
import Testing

@testable import AttncIR

@Suite struct VariadicTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "broadcasts three inputs", type: "Sum", opset: 13,
      inputs: [fact(.float, [batch, 1, 4]), fact(.float, [seq, 1]), fact(.float, [])],
      expected: .types([TensorType(.float, [batch, seq, 4])])),
    ComputeShapeCase(
      name: "passes one input through", type: "Max", opset: 13, inputs: [fact(.int32, [seq])],
      expected: .types([TensorType(.int32, [seq])])),
    ComputeShapeCase(
      name: "takes integers for Min", type: "Min", opset: 13,
      inputs: [fact(.uint8, [3]), fact(.uint8, [1])], expected: .types([TensorType(.uint8, [3])])),
    ComputeShapeCase(
      name: "refuses integers for Sum", type: "Sum", opset: 13, inputs: [fact(.int64, [3])],
      expected: .error("input 'data_0' must be floating-point, got int64")),
    ComputeShapeCase(
      name: "refuses mixed types", type: "Max", opset: 13,
      inputs: [fact(.float, [3]), fact(.float16, [3])],
      expected: .error("input 'data_1' has type float16 but 'data_0' has float32")),
    ComputeShapeCase(
      name: "refuses shapes that do not broadcast", type: "Sum", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.float, [4])],
      expected: .error("cannot broadcast [2, 3] with [4]")),
    ComputeShapeCase(
      name: "refuses no input", type: "Min", opset: 13, inputs: [],
      expected: .error("expects at least 1 input, got 0")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "sums with broadcasting", type: "Sum", opset: 13,
      inputs: [floats([1, 2, 3, 4], [2, 2]), floats([10, 20], [2]), floats([100], [])],
      expected: [floats([111, 122, 113, 124], [2, 2])]),
    ComputeEvalCase(
      name: "takes the maximum", type: "Max", opset: 13,
      inputs: [floats([1, 5, 3], [3]), floats([4, 2, 6], [3])], expected: [floats([4, 5, 6], [3])]),
    ComputeEvalCase(
      name: "propagates NaN", type: "Min", opset: 13,
      inputs: [floats([.nan, 1], [2]), floats([0, .nan], [2])],
      expected: [floats([.nan, .nan], [2])]),
    ComputeEvalCase(
      name: "is exact on int64", type: "Max", opset: 13,
      inputs: [
        int64s([9_007_199_254_740_993, -1], [2]), int64s([9_007_199_254_740_992, -2], [2]),
      ],
      expected: [int64s([9_007_199_254_740_993, -1], [2])]),
    ComputeEvalCase(
      name: "compares uint64 unsigned", type: "Min", opset: 13,
      inputs: [typed(.uint64, [-1, 1], [2]), typed(.uint64, [5, 5], [2])],
      expected: [typed(.uint64, [5, 1], [2])]),
    ComputeEvalCase(
      name: "returns a single input", type: "Sum", opset: 13, inputs: [floats([1, 2], [2])],
      expected: [floats([1, 2], [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
