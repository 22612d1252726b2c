import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConvTransposeTests: UsesComputeFixtures {
  static let x = fact(.float, [1, 1, 3, 3])
  static let w = fact(.float, [1, 2, 3, 3])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "grows by the kernel", type: "ConvTranspose", opset: 22, inputs: [x, w],
      expected: .types([TensorType(.float, [1, 2, 5, 5])])),
    ComputeShapeCase(
      name: "strides, pads and output_padding", type: "ConvTranspose",
      attributes: [
        "strides": .ints([3, 2]), "pads": .ints([1, 2, 1, 2]), "output_padding": .ints([1, 1]),
      ], opset: 22, inputs: [x, w], expected: .dims([[1, 2, 8, 4]])),
    ComputeShapeCase(
      name: "dilates the kernel", type: "ConvTranspose", attributes: ["dilations": .ints([2, 2])],
      opset: 22, inputs: [x, fact(.float, [1, 1, 2, 2])], expected: .dims([[1, 1, 5, 5]])),
    ComputeShapeCase(
      name: "multiplies by the stride for SAME", type: "ConvTranspose",
      attributes: ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])], opset: 22,
      inputs: [fact(.float, [batch, 1, seq, 3]), w], expected: .dims([[batch, 2, 2 * seq, 6]])),
    ComputeShapeCase(
      name: "takes output_shape", type: "ConvTranspose",
      attributes: ["output_shape": .ints([10, 8]), "strides": .ints([3, 2])], opset: 22,
      inputs: [x, w], expected: .dims([[1, 2, 10, 8]])),
    ComputeShapeCase(
      name: "multiplies output channels by group", type: "ConvTranspose",
      attributes: ["group": .int(2)], opset: 22,
      inputs: [fact(.float, [3, 2, 3, 3]), fact(.float, [2, 1, 3, 3])],
      expected: .dims([[3, 2, 5, 5]])),
    ComputeShapeCase(
      name: "keeps a symbolic length exact", type: "ConvTranspose",
      attributes: ["strides": .ints([2])], opset: 22,
      inputs: [fact(.float, [1, 4, seq]), fact(.float, [4, 4, 4])],
      expected: .dims([[1, 4, 2 * seq + 2]])),
    ComputeShapeCase(
      name: "refuses channels that do not match", type: "ConvTranspose", opset: 22,
      inputs: [fact(.float, [1, 3, 3, 3]), w],
      expected: .error("input channels and W's input channels differ: 3 and 1")),
    ComputeShapeCase(
      name: "refuses a short output_shape", type: "ConvTranspose",
      attributes: ["output_shape": .ints([10])], opset: 22, inputs: [x, w],
      expected: .error("attribute 'output_shape' has 1 entries for 2 spatial axes")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
