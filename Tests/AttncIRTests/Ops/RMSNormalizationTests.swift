import AttncTensor
import Testing

@testable import AttncIR

@Suite struct RMSNormalizationTests: UsesComputeFixtures {
  static let x = fact(.float, [batch, seq, 4096])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "normalises the last axis", type: "RMSNormalization", opset: 23,
      inputs: [x, fact(.float, [4096])],
      expected: .types([TensorType(.float, [batch, seq, 4096])])),
    ComputeShapeCase(
      name: "normalises from axis 0", type: "RMSNormalization", attributes: ["axis": .int(0)],
      opset: 23, inputs: [fact(.float, [2, 3]), fact(.float, [2, 3])], expected: .dims([[2, 3]])),
    ComputeShapeCase(
      name: "refuses a scale of the wrong length", type: "RMSNormalization", opset: 23,
      inputs: [x, fact(.float, [4095])],
      expected: .error(
        "input 'scale' of shape [4095] does not broadcast to the normalised dims [4096]")),
    ComputeShapeCase(
      name: "refuses a scale of another type", type: "RMSNormalization", opset: 23,
      inputs: [x, fact(.float16, [4096])],
      expected: .error("input 'scale' has type float16 but 'X' has float32")),
    ComputeShapeCase(
      name: "refuses an integer stash type", type: "RMSNormalization",
      attributes: ["stash_type": .int(7)], opset: 23, inputs: [x, fact(.float, [4096])],
      expected: .error("attribute 'stash_type' must name a floating-point type, got 7")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
