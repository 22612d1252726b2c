import AttncTensor
import Testing

@testable import AttncIR

@Suite struct RangeTests: UsesMovementFixtures {
  static func scalar(_ dtype: DType, _ value: Double) -> HostTensor {
    HostTensor(dtype: dtype, shape: [], converting: [value])
  }

  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "constant integer bounds", opset: 13,
      inputs: [ints([0], scalar: true), ints([5], scalar: true), ints([1], scalar: true)],
      expected: .types([TensorType(.int64, [5])])),
    ShapeCase(
      name: "a symbolic limit", opset: 13,
      inputs: [ints([0], scalar: true), content([seq], scalar: true), ints([1], scalar: true)],
      expected: .dims([[seq]])),
    ShapeCase(
      name: "a symbolic span with a step", opset: 13,
      inputs: [
        content([past], scalar: true), content([past + seq], scalar: true), ints([2], scalar: true),
      ],
      expected: .dims([[(seq + 1).floorDivided(by: 2)]])),
    ShapeCase(
      name: "a negative delta", opset: 13,
      inputs: [ints([10], scalar: true), ints([4], scalar: true), ints([-3], scalar: true)],
      expected: .dims([[2]])),
    ShapeCase(
      name: "constant float bounds", opset: 13,
      inputs: [
        constant(scalar(.float, 1)), constant(scalar(.float, 2.5)), constant(scalar(.float, 0.5)),
      ],
      expected: .types([TensorType(.float, [3])])),
    ShapeCase(
      name: "unknown bounds give a fresh length", opset: 13,
      inputs: [fact(.float, []), fact(.float, []), fact(.float, [])], expected: .dims([[fresh]])),
    ShapeCase(
      name: "refuses mixed types", opset: 13,
      inputs: [fact(.int64, []), fact(.int32, []), fact(.int64, [])],
      expected: .error("start, limit and delta must have one type, got int64, int32 and int64")),
    ShapeCase(
      name: "refuses a zero delta", opset: 13,
      inputs: [ints([0], scalar: true), ints([5], scalar: true), ints([0], scalar: true)],
      expected: .error("delta is 0")),
    ShapeCase(
      name: "refuses vectors", opset: 13,
      inputs: [fact(.int64, [2]), fact(.int64, []), fact(.int64, [])],
      expected: .error("start, limit and delta must be scalars, got rank 1")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Range") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "integers", opset: 13,
      inputs: [int64s([1], []), int64s([7], []), int64s([2], [])],
      expected: [int64s([1, 3, 5], [3])]),
    EvalCase(
      name: "a negative delta in int32", opset: 13,
      inputs: [scalar(.int32, 10), scalar(.int32, 6), scalar(.int32, -3)],
      expected: [HostTensor(dtype: .int32, shape: [2], integers: [10, 7])]),
    EvalCase(
      name: "floats", opset: 13,
      inputs: [scalar(.float, 1), scalar(.float, 2.5), scalar(.float, 0.5)],
      expected: [floats([1, 1.5, 2], [3])]),
    EvalCase(
      name: "empty when the limit is behind", opset: 13,
      inputs: [int64s([5], []), int64s([1], []), int64s([1], [])], expected: [int64s([], [0])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Range") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "positions after a cache", opset: 13,
      inputs: [
        content([past], scalar: true), content([past + 3], scalar: true), ints([1], scalar: true),
      ],
      expected: [past, past + 1, past + 2]),
    ContentCase(
      name: "constants", opset: 13,
      inputs: [ints([0], scalar: true), ints([4], scalar: true), ints([2], scalar: true)],
      expected: [0, 2]),
    ContentCase(
      name: "unknown for a symbolic length", opset: 13,
      inputs: [ints([0], scalar: true), content([seq], scalar: true), ints([1], scalar: true)],
      expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Range")
  }
}
