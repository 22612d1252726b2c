import AttncTensor
import Testing

@testable import AttncIR

@Suite struct GatherTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "an embedding lookup", opset: 13,
      inputs: [fact(.float, [30522, 768]), fact(.int64, [batch, seq])],
      expected: .dims([[batch, seq, 768]])),
    ShapeCase(
      name: "a scalar index drops the axis", attributes: ["axis": .int(1)], opset: 13,
      inputs: [fact(.float, [batch, seq, 768]), ints([0], scalar: true)],
      expected: .dims([[batch, 768]])),
    ShapeCase(
      name: "negative axis", attributes: ["axis": .int(-1)], opset: 13,
      inputs: [fact(.float, [2, 5]), fact(.int32, [3, 4])], expected: .dims([[2, 3, 4]])),
    ShapeCase(
      name: "refuses float indices", opset: 13,
      inputs: [fact(.float, [3]), fact(.float, [1])],
      expected: .error("indices must be int32 or int64, got float32")),
    ShapeCase(
      name: "refuses a constant index out of range", opset: 13,
      inputs: [fact(.float, [3, 2]), ints([1, 5])],
      expected: .error("index 5 is out of range for axis 0 of size 3")),
    ShapeCase(
      name: "refuses an axis out of range", attributes: ["axis": .int(2)], opset: 13,
      inputs: [fact(.float, [3, 2]), ints([0])],
      expected: .error("axis 2 is out of range for rank 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Gather") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "rows, with a negative index", opset: 13,
      inputs: [floats([1, 2, 3, 4, 5, 6], [3, 2]), int64s([2, -3], [2])],
      expected: [floats([5, 6, 1, 2], [2, 2])]),
    EvalCase(
      name: "columns with 2-D indices", attributes: ["axis": .int(1)], opset: 13,
      inputs: [int64s([1, 2, 3, 4, 5, 6], [2, 3]), int64s([0, 2, 1, 1], [2, 2])],
      expected: [int64s([1, 3, 2, 2, 4, 6, 5, 5], [2, 2, 2])]),
    EvalCase(
      name: "a scalar index", opset: 13, inputs: [int64s([7, 8, 9], [3]), int64s([1], [])],
      expected: [int64s([8], [])]),
    EvalCase(
      name: "strings", opset: 13,
      inputs: [HostTensor(strings: ["a", "b", "c"], shape: [3]), int64s([2, 0], [2])],
      expected: [HostTensor(strings: ["c", "a"], shape: [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Gather") }

  @Test func evaluationRefusesAnIndexOutOfRange() throws {
    let op = try #require(try MovementFixtures.op("Gather", [:], opset: 13) as? any Lowerable)
    #expect(throws: AttncError.invalid("index 3 is out of range for axis 0 of size 3")) {
      try op.evaluate([int64s([7, 8, 9], [3]), int64s([3], [1])], outputCount: 1)
    }
  }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a scalar index reads one dim", opset: 13,
      inputs: [content([batch, seq, 768]), ints([1], scalar: true)], expected: [seq]),
    ContentCase(
      name: "a vector of indices", opset: 13,
      inputs: [content([batch, seq, 768]), ints([0, 1])], expected: [batch, seq]),
    ContentCase(
      name: "a negative index", opset: 13,
      inputs: [content([batch, seq, 768]), ints([-1], scalar: true)], expected: [768]),
    ContentCase(
      name: "unknown indices", opset: 13,
      inputs: [content([batch, seq]), fact(.int64, [])], expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Gather")
  }

  /// The exporters' idiom: `Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), …, [12, 64]))`.
  @Test func shapeArithmeticReachesReshape() throws {
    let x = fact(.float, [batch, seq, 768])
    let shape = try MovementFixtures.infer(try MovementFixtures.op("Shape", [:], opset: 13), [x])
    let gather = try MovementFixtures.op("Gather", [:], opset: 13)
    let unsqueeze = try MovementFixtures.op("Unsqueeze", [:], opset: 13)
    let b = try MovementFixtures.infer(gather, [shape, ints([0], scalar: true)])
    let s = try MovementFixtures.infer(gather, [shape, ints([1], scalar: true)])
    #expect(b.rank == 0 && b.content == [batch])
    let bv = try MovementFixtures.infer(unsqueeze, [b, ints([0])])
    let sv = try MovementFixtures.infer(unsqueeze, [s, ints([0])])
    let concat = try MovementFixtures.op("Concat", ["axis": .int(0)], opset: 13)
    let target = try MovementFixtures.infer(concat, [bv, sv, ints([12]), ints([64])])
    #expect(target.content == [batch, seq, 12, 64])
    let reshape = try MovementFixtures.op("Reshape", [:], opset: 13)
    #expect(try reshape.outputTypes([x, target], outputCount: 1)[0].dims == [batch, seq, 12, 64])
  }
}
