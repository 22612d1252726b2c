import AttncTensor
import Testing

@testable import AttncIR

@Suite struct PadTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "adds the pads", opset: 13, inputs: [fact(.float, [batch, 3]), ints([0, 1, 0, 2])],
      expected: .dims([[batch, 6]])),
    ShapeCase(
      name: "pads only the listed axes", opset: 18,
      inputs: [fact(.float, [batch, 3, 4]), ints([1, 1]), nil, ints([-1])], expected: .dims([[batch, 3, 6]])),
    ShapeCase(
      name: "unknown pads give fresh dims", opset: 13,
      inputs: [fact(.float, [2, 3]), fact(.int64, [4])], expected: .dims([[fresh, fresh]])),
    ShapeCase(
      name: "refuses pads of the wrong length", opset: 13, inputs: [fact(.float, [2, 3]), ints([1, 2])],
      expected: .error("pads has 2 entries for 2 axes")),
    ShapeCase(
      name: "refuses cropping below zero", opset: 13, inputs: [fact(.float, [2, 3]), ints([0, -4, 0, 0])],
      expected: .error("padding axis 1 gives -1 elements")),
    ShapeCase(
      name: "refuses a constant of another type", opset: 13,
      inputs: [fact(.float, [2, 3]), ints([0, 1, 0, 1]), fact(.int64, [])],
      expected: .error("input 'constant_value' must be float32 like the data, got int64")),
    ShapeCase(
      name: "refuses wrap before opset 19", attributes: ["mode": .string("wrap")], opset: 18,
      inputs: [fact(.float, [2, 3]), ints([0, 1, 0, 1])],
      expected: .error("mode 'wrap' needs opset 19 or later, the model has 18")),
    ShapeCase(
      name: "refuses an unknown mode", attributes: ["mode": .string("circular")], opset: 13,
      inputs: [fact(.float, [2, 3]), ints([0, 1, 0, 1])],
      expected: .error("mode 'circular' is not one of constant, reflect, edge, wrap")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Pad") }

  static let x = floats([1, 2, 3, 4, 5, 6], [2, 3])

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "constant", opset: 13, inputs: [x, int64s([0, 1, 1, 2], [4]), floats([9], [])],
      expected: [floats([9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9], [3, 6])]),
    EvalCase(
      name: "constant defaults to zero", opset: 13, inputs: [x, int64s([1, 0, 0, 0], [4])],
      expected: [floats([0, 0, 0, 1, 2, 3, 4, 5, 6], [3, 3])]),
    EvalCase(
      name: "edge", attributes: ["mode": .string("edge")], opset: 13, inputs: [x, int64s([0, 2, 0, 1], [4])],
      expected: [floats([1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6], [2, 6])]),
    EvalCase(
      name: "reflect", attributes: ["mode": .string("reflect")], opset: 13, inputs: [x, int64s([0, 2, 0, 2], [4])],
      expected: [floats([3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4], [2, 7])]),
    EvalCase(
      name: "wrap", attributes: ["mode": .string("wrap")], opset: 19, inputs: [x, int64s([0, 1, 0, 2], [4])],
      expected: [floats([3, 1, 2, 3, 1, 2, 6, 4, 5, 6, 4, 5], [2, 6])]),
    EvalCase(
      name: "negative pads crop", opset: 13, inputs: [x, int64s([0, -1, 0, 0], [4])],
      expected: [floats([2, 3, 5, 6], [2, 2])]),
    EvalCase(
      name: "axes", opset: 18, inputs: [x, int64s([1, 0], [2]), nil, int64s([1], [1])],
      expected: [floats([0, 1, 2, 3, 0, 4, 5, 6], [2, 4])]),
    EvalCase(
      name: "integers with their constant", opset: 13, inputs: [int64s([1, 2], [2]), int64s([1, 0], [2]), int64s([7], [])],
      expected: [int64s([7, 1, 2], [3])]),
    EvalCase(
      name: "attribute form", attributes: ["pads": .ints([1, 1]), "value": .float(0.5)], opset: 2,
      inputs: [floats([1, 2], [2])], expected: [floats([0.5, 1, 2, 0.5], [4])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Pad") }

  @Test func reflectOnAnEmptyAxisIsRefused() throws {
    let op = try MovementFixtures.op("Pad", ["mode": .string("reflect")], opset: 13)
    #expect(throws: AttncError.invalid("padding axis 0 of 0 elements in mode reflect: there is nothing to repeat")) {
      _ = try #require(op as? any Lowerable).evaluate([Self.floats([], [0]), Self.int64s([1, 0], [2])], outputCount: 1)
    }
  }
}
