import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ReduceTests: UsesComputeFixtures {
  static let x = fact(.float, [batch, seq, 768])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps reduced axes as 1", type: "ReduceMean", opset: 18, inputs: [x, ints([-1])],
      expected: .dims([[batch, seq, 1]])),
    ComputeShapeCase(
      name: "drops reduced axes", type: "ReduceSum", attributes: ["keepdims": .int(0)], opset: 13,
      inputs: [x, ints([0, 2])], expected: .dims([[seq]])),
    ComputeShapeCase(
      name: "reads axes from the attribute before opset 18", type: "ReduceMax",
      attributes: ["axes": .ints([1])], opset: 13, inputs: [x], expected: .dims([[batch, 1, 768]])),
    ComputeShapeCase(
      name: "reads axes from the attribute before opset 13", type: "ReduceSum",
      attributes: ["axes": .ints([1]), "keepdims": .int(0)], opset: 11, inputs: [x],
      expected: .dims([[batch, 768]])),
    ComputeShapeCase(
      name: "reduces everything without axes", type: "ReduceSum", opset: 13, inputs: [x],
      expected: .dims([[1, 1, 1]])),
    ComputeShapeCase(
      name: "reduces everything with empty axes", type: "ReduceMean",
      attributes: ["keepdims": .int(0)], opset: 18, inputs: [x, ints([])], expected: .dims([[]])),
    ComputeShapeCase(
      name: "is the identity with empty axes and noop", type: "ReduceSum",
      attributes: ["noop_with_empty_axes": .int(1)], opset: 13, inputs: [x, ints([])],
      expected: .dims([[batch, seq, 768]])),
    ComputeShapeCase(
      name: "takes bool for ReduceMax", type: "ReduceMax", opset: 20,
      inputs: [fact(.bool, [4, 2]), ints([1])], expected: .types([TensorType(.bool, [4, 1])])),
    ComputeShapeCase(
      name: "invents dims for unknown axes", type: "ReduceSum", opset: 13,
      inputs: [x, fact(.int64, [1])], expected: .dims([[fresh, fresh, fresh]])),
    ComputeShapeCase(
      name: "keeps the rank for unknown axes of known count", type: "ReduceMean",
      attributes: ["keepdims": .int(0)], opset: 18, inputs: [x, fact(.int64, [2])],
      expected: .dims([[fresh]])),
    ComputeShapeCase(
      name: "cannot know the rank for unknown axes of unknown count", type: "ReduceSum",
      attributes: ["keepdims": .int(0)], opset: 13, inputs: [x, fact(.int64, [seq])],
      expected: .unsupported),
    ComputeShapeCase(
      name: "refuses an axis out of range", type: "ReduceMax", opset: 18, inputs: [x, ints([3])],
      expected: .error("axis 3 is out of range for rank 3")),
    ComputeShapeCase(
      name: "refuses a repeated axis", type: "ReduceSum", opset: 13, inputs: [x, ints([1, -2])],
      expected: .error("axis -2 appears twice")),
    ComputeShapeCase(
      name: "refuses strings", type: "ReduceSum", opset: 13, inputs: [fact(.string, [2])],
      expected: .error("input 'data' must be numeric, got string")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let matrix = floats([1, 2, 3, 4, 5, 6], [2, 3])

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "sums rows", type: "ReduceSum", opset: 13, inputs: [matrix, int64s([1], [1])],
      expected: [floats([6, 15], [2, 1])]),
    ComputeEvalCase(
      name: "averages columns", type: "ReduceMean", attributes: ["keepdims": .int(0)], opset: 18,
      inputs: [matrix, int64s([0], [1])], expected: [floats([2.5, 3.5, 4.5], [3])]),
    ComputeEvalCase(
      name: "takes the maximum of everything", type: "ReduceMax", attributes: ["keepdims": .int(0)],
      opset: 18, inputs: [matrix], expected: [floats([6], [])]),
    ComputeEvalCase(
      name: "reads attribute axes", type: "ReduceMax", attributes: ["axes": .ints([-1])], opset: 13,
      inputs: [matrix], expected: [floats([3, 6], [2, 1])]),
    ComputeEvalCase(
      name: "copies with noop", type: "ReduceSum", attributes: ["noop_with_empty_axes": .int(1)],
      opset: 13, inputs: [matrix, int64s([], [0])], expected: [matrix]),
    ComputeEvalCase(
      name: "sums an empty set to 0", type: "ReduceSum", opset: 13,
      inputs: [floats([], [2, 0, 4]), int64s([1], [1])],
      expected: [floats([0, 0, 0, 0, 0, 0, 0, 0], [2, 1, 4])]),
    ComputeEvalCase(
      name: "gives -inf for the maximum of an empty set", type: "ReduceMax", opset: 20,
      inputs: [floats([], [1, 0]), int64s([1], [1])], expected: [floats([-.infinity], [1, 1])]),
    ComputeEvalCase(
      name: "is exact on int64", type: "ReduceSum", opset: 13,
      inputs: [int64s([9_007_199_254_740_993, 1], [2]), int64s([0], [1])],
      expected: [int64s([9_007_199_254_740_994], [1])]),
    ComputeEvalCase(
      name: "truncates an integer mean", type: "ReduceMean", opset: 18,
      inputs: [typed(.int32, [1, 2], [2])], expected: [typed(.int32, [1], [1])]),
    ComputeEvalCase(
      name: "reduces bools with any", type: "ReduceMax", opset: 20,
      inputs: [bools([false, true, false, false], [2, 2]), int64s([1], [1])],
      expected: [bools([true, false], [2, 1])]),
    ComputeEvalCase(
      name: "sums magnitudes (L1)", type: "ReduceL1", opset: 18,
      inputs: [floats([1, -2, 3, -4, 5, -6], [2, 3]), int64s([1], [1])], expected: [floats([6, 15], [2, 1])]),
    ComputeEvalCase(
      name: "takes the Euclidean norm of rows (L2)", type: "ReduceL2", opset: 18,
      inputs: [floats([3, -4, 0, 5, 12, 0], [2, 3]), int64s([1], [1])], expected: [floats([5, 13], [2, 1])]),
    ComputeEvalCase(
      name: "takes the Euclidean norm over leading axes (L2)", type: "ReduceL2", attributes: ["keepdims": .int(0)],
      opset: 18, inputs: [floats([3, 5, 4, 12], [2, 2]), int64s([0], [1])], expected: [floats([5, 13], [2])]),
    ComputeEvalCase(
      name: "reads L2's attribute axes before opset 18", type: "ReduceL2", attributes: ["axes": .ints([0])],
      opset: 13, inputs: [floats([3, 5, 4, 12], [2, 2])], expected: [floats([5, 13], [1, 2])]),
    ComputeEvalCase(
      name: "sums squares", type: "ReduceSumSquare", attributes: ["keepdims": .int(0)], opset: 18,
      inputs: [matrix], expected: [floats([91], [])]),
    ComputeEvalCase(
      name: "takes an integer L2 truncated", type: "ReduceL2", opset: 18,
      inputs: [int64s([1, 2, 2, 3], [4]), int64s([0], [1])], expected: [int64s([4], [1])]),
    ComputeEvalCase(
      name: "gives 0 for the L2 of an empty set", type: "ReduceL2", opset: 18,
      inputs: [floats([], [1, 0]), int64s([1], [1])], expected: [floats([0], [1, 1])]),
    ComputeEvalCase(
      name: "propagates NaN through the maximum", type: "ReduceMax", opset: 18,
      inputs: [floats([1, .nan, 3], [3])], expected: [floats([.nan], [1])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }

  @Test func givesEachNodeItsOwnFreshDims() throws {
    let facts = [Self.x, fact(.int64, [1])]
    let a = try ComputeFixtures.op("ReduceSum", [:], opset: 13).outputTypes(facts, outputCount: 1)
    let b = try ComputeFixtures.op("ReduceSum", [:], opset: 13).outputTypes(facts, outputCount: 1)
    #expect(Set(a[0].dims).isDisjoint(with: b[0].dims))
  }
}
