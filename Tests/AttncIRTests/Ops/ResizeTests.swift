import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ResizeTests: UsesComputeFixtures {
  static let image = fact(.float, [1, 1, 4, 4])
  static let height = Dim.symbol("height")

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "floors scaled dims", type: "Resize", opset: 19,
      inputs: [image, nil, reals([1, 1, 0.8, 0.6])], expected: .dims([[1, 1, 3, 2]])),
    ComputeShapeCase(
      name: "floors float32 scales as the reference does", type: "Resize", opset: 19,
      inputs: [fact(.float, [1, 1, 2, 2]), nil, reals([1, 1, 2.3, 2.94])],
      expected: .dims([[1, 1, 4, 5]])),
    ComputeShapeCase(
      name: "takes sizes", type: "Resize", opset: 19,
      inputs: [image, nil, nil, ints([1, 1, 9, 10])], expected: .dims([[1, 1, 9, 10]])),
    ComputeShapeCase(
      name: "resizes only the listed axes", type: "Resize", attributes: ["axes": .ints([3, 2])],
      opset: 19, inputs: [fact(.float, [batch, 3, 2, 2]), nil, nil, ints([8, 7])],
      expected: .dims([[batch, 3, 7, 8]])),
    ComputeShapeCase(
      name: "keeps the aspect ratio not larger", type: "Resize",
      attributes: ["axes": .ints([2, 3]), "keep_aspect_ratio_policy": .string("not_larger")],
      opset: 19, inputs: [fact(.float, [1, 1, 2, 4]), nil, nil, ints([1, 3])],
      expected: .dims([[1, 1, 1, 2]])),
    ComputeShapeCase(
      name: "keeps the aspect ratio not smaller", type: "Resize",
      attributes: ["axes": .ints([2, 3]), "keep_aspect_ratio_policy": .string("not_smaller")],
      opset: 19, inputs: [fact(.float, [1, 1, 2, 4]), nil, nil, ints([1, 3])],
      expected: .dims([[1, 1, 2, 3]])),
    ComputeShapeCase(
      name: "doubles a symbolic dim", type: "Resize", opset: 19,
      inputs: [fact(.float, [batch, 3, height, height]), nil, reals([1, 1, 2, 0.5])],
      expected: .dims([[batch, 3, 2 * height, height.floorDivided(by: 2)]])),
    ComputeShapeCase(
      name: "invents a dim for an odd scale of a symbolic dim", type: "Resize", opset: 19,
      inputs: [fact(.float, [1, 1, height, 4]), nil, reals([1, 1, 1.5, 1.5])],
      expected: .dims([[1, 1, fresh, 6]])),
    ComputeShapeCase(
      name: "invents dims for sizes known at run time", type: "Resize",
      attributes: ["axes": .ints([2, 3])], opset: 19,
      inputs: [fact(.float, [batch, 3, 8, 8]), nil, nil, fact(.int64, [2])],
      expected: .dims([[batch, 3, fresh, fresh]])),
    ComputeShapeCase(
      name: "ignores an empty scales input", type: "Resize", opset: 11,
      inputs: [image, fact(.float, [0]), fact(.float, [0]), ints([1, 1, 2, 2])],
      expected: .dims([[1, 1, 2, 2]])),
    ComputeShapeCase(
      name: "takes scales as input 1 at opset 10", type: "Resize", opset: 10,
      inputs: [image, reals([1, 1, 2, 2])], expected: .dims([[1, 1, 8, 8]])),
    ComputeShapeCase(
      name: "refuses both scales and sizes", type: "Resize", opset: 19,
      inputs: [image, nil, reals([1, 1, 2, 2]), ints([1, 1, 8, 8])],
      expected: .error("only one of the inputs 'scales' and 'sizes' may be given")),
    ComputeShapeCase(
      name: "refuses neither scales nor sizes", type: "Resize", opset: 19, inputs: [image],
      expected: .error("one of the inputs 'scales' and 'sizes' is required")),
    ComputeShapeCase(
      name: "refuses scales of the wrong length", type: "Resize", opset: 19,
      inputs: [image, nil, reals([2, 2])],
      expected: .error("input 'scales' must be a float vector of 4 entries, got float32[2]")),
    ComputeShapeCase(
      name: "refuses an infinite scale", type: "Resize", opset: 19,
      inputs: [image, nil, reals([1, 1, .infinity, 1])],
      expected: .error("input 'scales' must be positive and finite, got inf")),
    ComputeShapeCase(
      name: "refuses an unknown mode", type: "Resize", attributes: ["mode": .string("area")],
      opset: 19, inputs: [image, nil, reals([1, 1, 2, 2])],
      expected: .error("attribute 'mode' is 'area', not one of nearest, linear, cubic")),
    ComputeShapeCase(
      name: "refuses a repeated axis", type: "Resize", attributes: ["axes": .ints([2, -2])],
      opset: 19, inputs: [image, nil, reals([2, 2])],
      expected: .error("attribute 'axes' names axis -2 twice")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
