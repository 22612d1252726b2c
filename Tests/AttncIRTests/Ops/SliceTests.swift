import AttncTensor
import Testing

@testable import AttncIR

@Suite struct SliceTests: UsesMovementFixtures {
  /// `Slice(data, starts, ends, axes, steps)` inputs at opset 13.
  static func bounds(
    _ data: ValueFact, _ starts: ValueFact, _ ends: ValueFact, axes: [Int]? = nil,
    steps: [Int]? = nil
  ) -> [ValueFact?] {
    [data, starts, ends, axes.map { ints($0) }, steps.map { ints($0) }]
  }

  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "constant bounds", opset: 13,
      inputs: bounds(fact(.float, [10, 20]), ints([1]), ints([5]), axes: [0]),
      expected: .dims([[4, 20]])),
    ShapeCase(
      name: "steps round up", opset: 13,
      inputs: bounds(fact(.float, [10]), ints([1]), ints([10]), axes: [0], steps: [3]),
      expected: .dims([[3]])),
    ShapeCase(
      name: "out-of-range ends clamp", opset: 13,
      inputs: bounds(fact(.float, [3, 10]), ints([1]), ints([1000]), axes: [1]),
      expected: .dims([[3, 9]])),
    ShapeCase(
      name: "a negative step reverses", opset: 13,
      inputs: bounds(fact(.float, [10]), ints([-1]), ints([Int(Int64.min)]), steps: [-1]),
      expected: .dims([[10]])),
    ShapeCase(
      name: "INT64_MAX runs to a symbolic end", opset: 13,
      inputs: bounds(fact(.float, [batch, seq, 64]), ints([0]), ints([end]), axes: [1]),
      expected: .dims([[batch, seq, 64]])),
    ShapeCase(
      name: "an end equal to the dim", opset: 13,
      inputs: bounds(fact(.float, [batch, seq]), ints([0]), content([seq]), axes: [1]),
      expected: .dims([[batch, seq]])),
    ShapeCase(
      name: "a negative end counts back from a symbolic dim", opset: 13,
      inputs: bounds(fact(.float, [batch, seq]), ints([0]), ints([-1]), axes: [-1]),
      expected: .dims([[batch, seq - 1]])),
    ShapeCase(
      name: "a small start within a symbolic dim", opset: 13,
      inputs: bounds(fact(.float, [batch, seq]), ints([1]), ints([end]), axes: [1]),
      expected: .dims([[batch, seq - 1]])),
    ShapeCase(
      name: "the new positions of a kv cache", opset: 13,
      inputs: bounds(fact(.float, [past + seq, 64]), content([past]), content([past + seq])),
      expected: .dims([[seq, 64]])),
    ShapeCase(
      name: "a symbolic step of 2", opset: 13,
      inputs: bounds(fact(.float, [2 * seq]), ints([0]), ints([end]), steps: [2]),
      expected: .dims([[seq]])),
    ShapeCase(
      name: "reversing a symbolic dim", opset: 13,
      inputs: bounds(fact(.float, [seq]), ints([-1]), ints([Int(Int64.min)]), steps: [-1]),
      expected: .dims([[seq]])),
    ShapeCase(
      name: "a symbolic end on a constant dim is fresh", opset: 13,
      inputs: bounds(fact(.float, [1024, 64]), ints([0]), content([seq]), axes: [0]),
      expected: .dims([[fresh, 64]])),
    ShapeCase(
      name: "unknown bounds make the sliced axis fresh", opset: 13,
      inputs: bounds(fact(.float, [3, seq]), fact(.int64, [1]), ints([5]), axes: [0]),
      expected: .dims([[fresh, seq]])),
    ShapeCase(
      name: "unknown axes make every axis fresh", opset: 13,
      inputs: [fact(.float, [3, 4]), ints([0]), ints([1]), fact(.int64, [1])],
      expected: .dims([[fresh, fresh]])),
    ShapeCase(
      name: "opset 9 reads attributes",
      attributes: ["starts": .ints([1, 0]), "ends": .ints([3, -1]), "axes": .ints([0, 1])],
      opset: 9, inputs: [fact(.float, [4, 5])], expected: .dims([[2, 4]])),
    ShapeCase(
      name: "refuses a zero step", opset: 13,
      inputs: bounds(fact(.float, [4]), ints([0]), ints([4]), steps: [0]),
      expected: .error("slice step cannot be 0")),
    ShapeCase(
      name: "refuses mismatched starts and ends", opset: 13,
      inputs: bounds(fact(.float, [4, 4]), ints([0, 0]), ints([4])),
      expected: .error("starts has 2 entries but ends has 1")),
    ShapeCase(
      name: "refuses a repeated axis", opset: 13,
      inputs: bounds(fact(.float, [4, 4]), ints([0, 0]), ints([1, 1]), axes: [0, -2]),
      expected: .error("axes [0, -2] repeat an axis")),
    ShapeCase(
      name: "refuses an axis out of range", opset: 13,
      inputs: bounds(fact(.float, [4]), ints([0]), ints([1]), axes: [1]),
      expected: .error("axis 1 is out of range for rank 1")),
    ShapeCase(
      name: "refuses float bounds", opset: 13,
      inputs: bounds(fact(.float, [4]), fact(.float, [1]), ints([1])),
      expected: .error("input 'starts' must be int32 or int64, got float32")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Slice") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "a window with a step", opset: 13,
      inputs: [
        int64s(Array(0..<12), [3, 4]), int64s([0, 1], [2]), int64s([3, 4], [2]),
        int64s([0, 1], [2]),
        int64s([2, 2], [2]),
      ],
      expected: [int64s([1, 3, 9, 11], [2, 2])]),
    EvalCase(
      name: "reversed", opset: 13,
      inputs: [
        floats([1, 2, 3, 4], [4]), int64s([-1], [1]), int64s([Int(Int64.min)], [1]), nil,
        int64s([-1], [1]),
      ],
      expected: [floats([4, 3, 2, 1], [4])]),
    EvalCase(
      name: "clamped start past the end gives nothing", opset: 13,
      inputs: [floats([1, 2, 3], [3]), int64s([5], [1]), int64s([7], [1])],
      expected: [floats([], [0])]),
    EvalCase(
      name: "opset 9 attributes", attributes: ["starts": .ints([1]), "ends": .ints([3])],
      opset: 9, inputs: [floats([1, 2, 3, 4], [4])], expected: [floats([2, 3], [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Slice") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "the leading dims of a shape", opset: 13,
      inputs: [content([batch, seq, 768]), ints([0]), ints([2])], expected: [batch, seq]),
    ContentCase(
      name: "the last dim of a shape", opset: 13,
      inputs: [content([batch, seq, 768]), ints([-1]), ints([end])], expected: [768]),
    ContentCase(
      name: "a reversed shape", opset: 13,
      inputs: [content([batch, seq]), ints([-1]), ints([Int(Int64.min)]), ints([0]), ints([-1])],
      expected: [seq, batch]),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Slice")
  }
}
