import AttncTensor
import Testing

@testable import AttncIR

@Suite struct WhereTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "broadcasts all three", opset: 16,
      inputs: [
        fact(.bool, [1, 1, seq, seq]), fact(.float, [batch, 12, seq, seq]), fact(.float, []),
      ],
      expected: .types([TensorType(.float, [batch, 12, seq, seq])])),
    ShapeCase(
      name: "refuses a non-bool condition", opset: 16,
      inputs: [fact(.int64, [2]), fact(.float, [2]), fact(.float, [2])],
      expected: .error("condition must be bool, got int64")),
    ShapeCase(
      name: "refuses mixed branches", opset: 16,
      inputs: [fact(.bool, [2]), fact(.float, [2]), fact(.int64, [2])],
      expected: .error("x has type float32 but y has int64")),
    ShapeCase(
      name: "refuses incompatible dims", opset: 16,
      inputs: [fact(.bool, [2]), fact(.float, [3]), fact(.float, [2])],
      expected: .error("cannot broadcast [2] with [3] with [2]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Where") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "picks per element", opset: 16,
      inputs: [
        bools([true, false, true, true], [2, 2]), floats([1, 2, 3, 4], [2, 2]),
        floats([9, 8, 7, 6], [2, 2]),
      ],
      expected: [floats([1, 8, 3, 4], [2, 2])]),
    EvalCase(
      name: "broadcasts a scalar fill", opset: 16,
      inputs: [bools([false, true], [2]), int64s([1, 2], [2]), int64s([0], [])],
      expected: [int64s([0, 2], [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Where") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "selects dims", opset: 16,
      inputs: [content([0, 1, 0], dtype: .bool), ints([1, 1, 1]), content([batch, -1, 64])],
      expected: [batch, 1, 64]),
    ContentCase(
      name: "unknown for an unknown condition", opset: 16,
      inputs: [fact(.bool, [2]), ints([1, 1]), content([batch, seq])], expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Where")
  }

  /// Legacy torch exports: `Where(Equal(shape, -1), ones, shape)` turns a `-1` into 1.
  @Test func legacyTorchShapeFixUp() throws {
    let shape = content([batch, -1, 64])
    let equal = try MovementFixtures.infer(
      try MovementFixtures.op("Equal", [:], opset: 16), [shape, ints([-1])])
    #expect(equal.content == [0, 1, 0])
    let ones = ints([1, 1, 1])
    let fixed = try MovementFixtures.infer(
      try MovementFixtures.op("Where", [:], opset: 16), [equal, ones, shape])
    #expect(fixed.content == [batch, 1, 64])
  }
}
