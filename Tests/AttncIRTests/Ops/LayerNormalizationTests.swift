import AttncTensor
import Testing

@testable import AttncIR

@Suite struct LayerNormalizationTests: UsesComputeFixtures {
  static let x = fact(.float, [batch, seq, 768])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "normalises the last axis", type: "LayerNormalization", opset: 17,
      inputs: [x, fact(.float, [768]), fact(.float, [768])], outputs: 3,
      expected: .types([
        TensorType(.float, [batch, seq, 768]), TensorType(.float, [batch, seq, 1]),
        TensorType(.float, [batch, seq, 1]),
      ])),
    ComputeShapeCase(
      name: "normalises from axis 1", type: "LayerNormalization", attributes: ["axis": .int(1)],
      opset: 17, inputs: [x, fact(.float, [seq, 768])], outputs: 3,
      expected: .dims([[batch, seq, 768], [batch, 1, 1], [batch, 1, 1]])),
    ComputeShapeCase(
      name: "stashes statistics as float32 for float16", type: "LayerNormalization", opset: 17,
      inputs: [fact(.float16, [2, 4]), fact(.float16, [4])], outputs: 2,
      expected: .types([TensorType(.float16, [2, 4]), TensorType(.float, [2, 1])])),
    ComputeShapeCase(
      name: "broadcasts a size-1 scale", type: "LayerNormalization", opset: 17,
      inputs: [x, fact(.float, [1])], expected: .dims([[batch, seq, 768]])),
    ComputeShapeCase(
      name: "refuses a scale of the wrong length", type: "LayerNormalization", opset: 17,
      inputs: [x, fact(.float, [512])],
      expected: .error(
        "input 'Scale' of shape [512] does not broadcast to the normalised dims [768]")),
    ComputeShapeCase(
      name: "refuses an axis out of range", type: "LayerNormalization",
      attributes: ["axis": .int(3)], opset: 17, inputs: [x, fact(.float, [768])],
      expected: .error("axis 3 is out of range for rank 3")),
    ComputeShapeCase(
      name: "refuses an integer input", type: "LayerNormalization", opset: 17,
      inputs: [fact(.int64, [2, 3]), fact(.int64, [3])],
      expected: .error("input 'X' must be floating-point, got int64")),
    ComputeShapeCase(
      name: "is not an op before opset 17", type: "LayerNormalization", opset: 16,
      inputs: [x, fact(.float, [768])], expected: .unsupported),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
