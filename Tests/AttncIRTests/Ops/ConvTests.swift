import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConvTests: UsesComputeFixtures {
  static let image = fact(.float, [batch, 3, 224, 224])
  static let height = Dim.symbol("height")
  static let halfHeight = (height + 1).floorDivided(by: 2)

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "embeds ViT patches", type: "Conv", attributes: ["strides": .ints([16, 16])],
      opset: 22, inputs: [image, fact(.float, [768, 3, 16, 16]), fact(.float, [768])],
      expected: .types([TensorType(.float, [batch, 768, 14, 14])])),
    ComputeShapeCase(
      name: "pads explicitly", type: "Conv",
      attributes: ["pads": .ints([1, 0, 1, 0]), "strides": .ints([2, 2])], opset: 22,
      inputs: [fact(.float, [1, 1, 7, 5]), fact(.float, [1, 1, 3, 3])],
      expected: .dims([[1, 1, 4, 2]])),
    ComputeShapeCase(
      name: "pads SAME with a stride", type: "Conv",
      attributes: ["auto_pad": .string("SAME_LOWER"), "strides": .ints([2, 2])], opset: 22,
      inputs: [fact(.float, [1, 1, 5, 5]), fact(.float, [1, 1, 3, 3])],
      expected: .dims([[1, 1, 3, 3]])),
    ComputeShapeCase(
      name: "dilates the kernel", type: "Conv", attributes: ["dilations": .ints([2])], opset: 22,
      inputs: [fact(.float, [1, 1, 9]), fact(.float, [1, 1, 3])], expected: .dims([[1, 1, 5]])),
    ComputeShapeCase(
      name: "convolves per channel group", type: "Conv", attributes: ["group": .int(4)], opset: 22,
      inputs: [fact(.float, [2, 4, 11]), fact(.float, [4, 1, 4])], expected: .dims([[2, 4, 8]])),
    ComputeShapeCase(
      name: "keeps a symbolic length exact", type: "Conv",
      attributes: ["pads": .ints([1, 1]), "strides": .ints([2])], opset: 22,
      inputs: [fact(.float, [1, 80, seq]), fact(.float, [384, 80, 3])],
      expected: .dims([[1, 384, (seq - 1).floorDivided(by: 2) + 1]])),
    ComputeShapeCase(
      name: "keeps a symbolic SAME length exact", type: "Conv",
      attributes: ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])], opset: 22,
      inputs: [fact(.float, [1, 3, height, height]), fact(.float, [8, 3, 3, 3])],
      expected: .dims([[1, 8, halfHeight, halfHeight]])),
    ComputeShapeCase(
      name: "refuses channels that do not match", type: "Conv", opset: 22,
      inputs: [fact(.float, [1, 4, 8, 8]), fact(.float, [2, 3, 3, 3])],
      expected: .error("input channels and W's channels × group differ: 4 and 3")),
    ComputeShapeCase(
      name: "refuses a short strides list", type: "Conv", attributes: ["strides": .ints([2])],
      opset: 22, inputs: [image, fact(.float, [8, 3, 3, 3])],
      expected: .error("attribute 'strides' has 1 entries for 2 spatial axes")),
    ComputeShapeCase(
      name: "refuses a zero stride", type: "Conv", attributes: ["strides": .ints([0, 1])],
      opset: 22, inputs: [image, fact(.float, [8, 3, 3, 3])],
      expected: .error("attribute 'strides' must be positive, got [0, 1]")),
    ComputeShapeCase(
      name: "refuses a kernel larger than the input", type: "Conv", opset: 22,
      inputs: [fact(.float, [1, 1, 2]), fact(.float, [1, 1, 3])],
      expected: .error("spatial axis 0: padded input 2 is shorter than the dilated kernel 3")),
    ComputeShapeCase(
      name: "refuses a bias of the wrong length", type: "Conv", opset: 22,
      inputs: [image, fact(.float, [8, 3, 3, 3]), fact(.float, [4])],
      expected: .error("B's length and W's output channels differ: 4 and 8")),
    ComputeShapeCase(
      name: "refuses an unknown auto_pad", type: "Conv", attributes: ["auto_pad": .string("SAME")],
      opset: 22, inputs: [image, fact(.float, [8, 3, 3, 3])],
      expected: .error(
        "attribute 'auto_pad' is 'SAME', not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  @Test func derivesSamePadsForTheKernel() throws {
    let attributes = Attributes(["auto_pad": .string("SAME_UPPER"), "strides": .ints([2])])
    let conv = try Conv(attributes: attributes, opset: 22)
    // Input 6, kernel 4, stride 2 → output 3, total pad (3-1)·2 + 4 - 6 = 2: one on each side.
    #expect(try conv.beginPads([1, 1, 6], [1, 1, 4], [1, 1, 3]) == [1])
    #expect(try conv.beginPads([1, 1, 5], [1, 1, 4], [1, 1, 3]) == [1])
    let lower = try Conv(
      attributes: Attributes(["auto_pad": .string("SAME_LOWER"), "strides": .ints([2])]),
      opset: 22)
    #expect(try lower.beginPads([1, 1, 5], [1, 1, 4], [1, 1, 3]) == [2])
    #expect(try conv.beginPads([1, 1, seq], [1, 1, 4], [1, 1, seq]) == nil)
  }
}
