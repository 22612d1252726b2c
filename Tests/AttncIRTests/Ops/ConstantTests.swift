import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConstantTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "a tensor value", attributes: ["value": .tensor(floats([1, 2, 3, 4, 5, 6], [2, 3]))],
      opset: 13, inputs: [], expected: .types([TensorType(.float, [2, 3])])),
    ShapeCase(
      name: "value_float is a scalar", attributes: ["value_float": .float(2)], opset: 13,
      inputs: [], expected: .types([TensorType(.float, [])])),
    ShapeCase(
      name: "value_ints is a vector", attributes: ["value_ints": .ints([1, 2])], opset: 13,
      inputs: [], expected: .types([TensorType(.int64, [2])])),
    ShapeCase(
      name: "value_strings is a vector", attributes: ["value_strings": .strings(["a", "b", "c"])],
      opset: 13, inputs: [], expected: .types([TensorType(.string, [3])])),
    ShapeCase(
      name: "refuses no value", opset: 13, inputs: [],
      expected: .error("needs exactly one value attribute, got 0")),
    ShapeCase(
      name: "refuses two values", attributes: ["value_int": .int(1), "value_float": .float(1)],
      opset: 13, inputs: [],
      expected: .error("needs exactly one value attribute, got 2 (value_float, value_int)")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Constant") }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "value", attributes: ["value": .tensor(int64s([4, 5], [2]))], opset: 13, inputs: [],
      expected: [int64s([4, 5], [2])]),
    EvalCase(
      name: "value_floats", attributes: ["value_floats": .floats([0.5, -1])], opset: 13,
      inputs: [], expected: [floats([0.5, -1], [2])]),
    EvalCase(
      name: "value_int", attributes: ["value_int": .int(-3)], opset: 13, inputs: [],
      expected: [int64s([-3], [])]),
    EvalCase(
      name: "value_string", attributes: ["value_string": .string("hi")], opset: 13, inputs: [],
      expected: [HostTensor(strings: ["hi"], shape: [])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Constant") }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "small integers", attributes: ["value_ints": .ints([0, 0, 12, -1])], opset: 13,
      inputs: [], expected: [0, 0, 12, -1]),
    ContentCase(
      name: "not floats", attributes: ["value_floats": .floats([1])], opset: 13, inputs: [],
      expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Constant")
  }
}
