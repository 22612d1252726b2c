import AttncTensor
import Testing

@testable import AttncIR

@Suite struct BatchNormalizationTests: UsesComputeFixtures {
  static let x = fact(.float, [batch, 3, 4, 5])
  static let channel = fact(.float, [3])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps X in inference mode", type: "BatchNormalization", opset: 15,
      inputs: [x, channel, channel, channel, channel],
      expected: .types([TensorType(.float, [batch, 3, 4, 5])])),
    ComputeShapeCase(
      name: "returns running statistics in training mode", type: "BatchNormalization",
      attributes: ["training_mode": .int(1)], opset: 15,
      inputs: [x, channel, channel, channel, channel], outputs: 3,
      expected: .dims([[batch, 3, 4, 5], [3], [3]])),
    ComputeShapeCase(
      name: "returns saved statistics before opset 14", type: "BatchNormalization", opset: 9,
      inputs: [x, channel, channel, channel, channel], outputs: 5,
      expected: .dims([[batch, 3, 4, 5], [3], [3], [3], [3]])),
    ComputeShapeCase(
      name: "refuses statistics of the wrong length", type: "BatchNormalization", opset: 15,
      inputs: [x, channel, channel, fact(.float, [4]), channel],
      expected: .error("channels of X and 'input_mean' differ: 3 and 4")),
    ComputeShapeCase(
      name: "refuses five outputs at opset 15", type: "BatchNormalization", opset: 15,
      inputs: [x, channel, channel, channel, channel], outputs: 5,
      expected: .error("has 5 outputs, at most 3 allowed")),
    ComputeShapeCase(
      name: "refuses a vector X", type: "BatchNormalization", opset: 15,
      inputs: [fact(.float, [3]), channel, channel, channel, channel],
      expected: .error("input 'X' must have rank ≥ 2, got rank 1")),
    ComputeShapeCase(
      name: "does not support non-spatial mode", type: "BatchNormalization",
      attributes: ["spatial": .int(0)], opset: 7, inputs: [x, channel, channel, channel, channel],
      expected: .unsupported),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
