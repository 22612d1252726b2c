import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ConstantOfShapeTests: UsesMovementFixtures {
  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "float zeros of a symbolic shape", opset: 13, inputs: [content([batch, seq])],
      expected: .types([TensorType(.float, [batch, seq])])),
    ShapeCase(
      name: "the value's dtype",
      attributes: ["value": .tensor(HostTensor(int64s: [1], shape: [1]))],
      opset: 13, inputs: [ints([2, 3])], expected: .types([TensorType(.int64, [2, 3])])),
    ShapeCase(
      name: "an empty shape gives a scalar", opset: 13, inputs: [ints([])],
      expected: .types([TensorType(.float, [])])),
    ShapeCase(
      name: "unknown entries give fresh dims", opset: 13, inputs: [fact(.int64, [2])],
      expected: .dims([[fresh, fresh]])),
    ShapeCase(
      name: "refuses a negative entry", opset: 13, inputs: [ints([2, -2])],
      expected: .error("shape entry -2 is negative")),
    ShapeCase(
      name: "refuses a value of two elements",
      attributes: ["value": .tensor(HostTensor(floats: [1, 2], shape: [2]))], opset: 13,
      inputs: [ints([2])], expected: .error("attribute 'value' must hold one element, got 2")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws {
    try c.check("ConstantOfShape")
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "ones", attributes: ["value": .tensor(HostTensor(floats: [1], shape: [1]))], opset: 13,
      inputs: [int64s([2, 2], [2])], expected: [floats([1, 1, 1, 1], [2, 2])]),
    EvalCase(
      name: "int32 zeros",
      attributes: ["value": .tensor(HostTensor(dtype: .int32, shape: [1], integers: [0]))],
      opset: 13, inputs: [int64s([3], [1])],
      expected: [HostTensor(dtype: .int32, shape: [3], integers: [0, 0, 0])]),
    EvalCase(
      name: "a zero dim gives an empty tensor", opset: 13, inputs: [int64s([0, 2], [2])],
      expected: [floats([], [0, 2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws {
    try c.check("ConstantOfShape")
  }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "an integer vector of known length",
      attributes: ["value": .tensor(HostTensor(int64s: [1], shape: [1]))], opset: 13,
      inputs: [ints([3])], expected: [1, 1, 1]),
    ContentCase(
      name: "not for floats", opset: 13, inputs: [ints([3])], expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("ConstantOfShape")
  }
}
