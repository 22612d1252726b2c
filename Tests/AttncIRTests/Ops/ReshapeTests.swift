import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ReshapeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "takes symbolic entries as they are", opset: 14,
      inputs: [fact(.float, [batch, seq, 768]), content([batch, seq, 12, 64])],
      expected: .dims([[batch, seq, 12, 64]])),
    ShapeCase(
      name: "0 copies and -1 divides what is left", opset: 14,
      inputs: [fact(.float, [batch, seq, 768]), ints([0, 0, 12, -1])],
      expected: .dims([[batch, seq, 12, 64]])),
    ShapeCase(
      name: "-1 divides symbolic totals", opset: 14,
      inputs: [fact(.float, [batch, seq, 12, 64]), content([batch, seq, -1])],
      expected: .dims([[batch, seq, 768]])),
    ShapeCase(
      name: "-1 alone flattens", opset: 14, inputs: [fact(.float, [batch, 3, 4]), ints([-1])],
      expected: .dims([[12 * batch]])),
    ShapeCase(
      name: "allowzero keeps a literal 0", attributes: ["allowzero": .int(1)], opset: 14,
      inputs: [fact(.float, [0, 3]), ints([3, 0])], expected: .dims([[3, 0]])),
    ShapeCase(
      name: "opset 4 reads the attribute", attributes: ["shape": .ints([2, -1])], opset: 4,
      inputs: [fact(.float, [2, 3, 4])], expected: .dims([[2, 12]])),
    ShapeCase(
      name: "unknown entries give fresh dims of the known rank", opset: 14,
      inputs: [fact(.float, [2, 3]), fact(.int64, [3])], expected: .dims([[fresh, fresh, fresh]])),
    ShapeCase(
      name: "a shape of data-dependent length is not knowable", opset: 14,
      inputs: [fact(.float, [2, 3]), fact(.int64, [seq])], expected: .unsupported),
    ShapeCase(
      name: "refuses a mismatched element count", opset: 14,
      inputs: [fact(.float, [2, 3]), ints([4, -1])],
      expected: .error("cannot reshape [2, 3] (6 elements) into [4, -1]")),
    ShapeCase(
      name: "refuses a mismatched total", opset: 14,
      inputs: [fact(.float, [2, 3]), ints([4, 2])],
      expected: .error("cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)")),
    ShapeCase(
      name: "refuses two -1", opset: 14, inputs: [fact(.float, [2, 3]), ints([-1, -1])],
      expected: .error("shape has more than one -1")),
    ShapeCase(
      name: "refuses other negative entries", opset: 14,
      inputs: [fact(.float, [2, 3]), ints([3, -2])],
      expected: .error("shape entry 1 is -2")),
    ShapeCase(
      name: "refuses a 0 past the input rank", opset: 14,
      inputs: [fact(.float, [6]), ints([2, 0])],
      expected: .error("shape entry 1 is 0 but the input has rank 1")),
    ShapeCase(
      name: "refuses 0 with -1 under allowzero", attributes: ["allowzero": .int(1)], opset: 14,
      inputs: [fact(.float, [2, 3]), ints([0, -1])],
      expected: .error("shape [0, -1] has both a 0 and a -1 with allowzero")),
    ShapeCase(
      name: "refuses an int32 shape", opset: 14,
      inputs: [fact(.float, [2, 3]), fact(.int32, [2])],
      expected: .error("input 'shape' must be int64, got int32")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Reshape") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "keeps the element order", opset: 14,
      inputs: [floats([1, 2, 3, 4, 5, 6], [2, 3]), int64s([-1, 2], [2])],
      expected: [floats([1, 2, 3, 4, 5, 6], [3, 2])]),
    EvalCase(
      name: "0 copies the input dim", opset: 14,
      inputs: [int64s(Array(0..<24), [2, 3, 4]), int64s([0, -1], [2])],
      expected: [int64s(Array(0..<24), [2, 12])]),
    EvalCase(
      name: "reshapes strings", opset: 14,
      inputs: [HostTensor(strings: ["a", "b"], shape: [2]), int64s([1, 2], [2])],
      expected: [HostTensor(strings: ["a", "b"], shape: [1, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Reshape") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "a scalar to a one-element vector", opset: 14,
      inputs: [content([seq], scalar: true), ints([1])], expected: [seq]),
    ContentCase(
      name: "a vector to a vector", opset: 14, inputs: [content([batch, seq]), ints([-1])],
      expected: [batch, seq]),
    ContentCase(
      name: "not to a matrix", opset: 14, inputs: [content([batch, seq]), ints([1, 2])],
      expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Reshape")
  }
}
