import AttncTensor
import Testing

@testable import AttncIR

@Suite struct InstanceNormalizationTests: UsesComputeFixtures {
  static let channel = fact(.float, [2])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps the input's type", type: "InstanceNormalization", opset: 6,
      inputs: [fact(.float, [batch, 2, seq]), channel, channel], expected: .types([TensorType(.float, [batch, 2, seq])])),
    ComputeShapeCase(
      name: "refuses a scale of the wrong length", type: "InstanceNormalization", opset: 6,
      inputs: [fact(.float, [batch, 2, seq]), fact(.float, [3]), channel],
      expected: .error("channels of input and 'scale' differ: 2 and 3")),
    ComputeShapeCase(
      name: "refuses input without spatial axes", type: "InstanceNormalization", opset: 6,
      inputs: [fact(.float, [batch, 2]), channel, channel], expected: .error("input 'input' must have rank ≥ 3, got rank 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      // Channel 0: mean 2.5, variance 1.25; channel 1 is constant, so only its B is left.
      name: "normalises each channel over its spatial axes", type: "InstanceNormalization", opset: 6,
      inputs: [floats([1, 2, 3, 4, 2, 2, 2, 2], [1, 2, 2, 2]), floats([2, 1], [2]), floats([0.5, -1], [2])],
      expected: [floats([-2.1832709, -0.3944236, 1.3944236, 3.1832709, -1, -1, -1, -1], [1, 2, 2, 2])]),
    ComputeEvalCase(
      name: "reads epsilon", type: "InstanceNormalization", attributes: ["epsilon": .float(3)], opset: 6,
      inputs: [floats([0, 2, 5, 5], [2, 1, 2]), floats([1], [1]), floats([0], [1])],
      expected: [floats([-0.5, 0.5, 0, 0], [2, 1, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
