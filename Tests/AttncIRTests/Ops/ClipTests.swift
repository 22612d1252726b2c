import AttncTensor
import Testing

@testable import AttncIR

@Suite struct ClipTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps the input type", type: "Clip", opset: 13,
      inputs: [fact(.float, [batch, seq]), fact(.float, []), fact(.float, [])],
      expected: .types([TensorType(.float, [batch, seq])])),
    ComputeShapeCase(
      name: "takes only a max", type: "Clip", opset: 13,
      inputs: [fact(.int8, [3]), nil, fact(.int8, [])], expected: .types([TensorType(.int8, [3])])),
    ComputeShapeCase(
      name: "takes bounds as attributes before opset 11", type: "Clip",
      attributes: ["min": .float(0)], opset: 6, inputs: [fact(.float, [seq])],
      expected: .types([TensorType(.float, [seq])])),
    ComputeShapeCase(
      name: "refuses bound inputs before opset 11", type: "Clip", opset: 6,
      inputs: [fact(.float, [3]), fact(.float, [])], expected: .error("expects 1 inputs, got 2")),
    ComputeShapeCase(
      name: "refuses integers before opset 11", type: "Clip", opset: 6,
      inputs: [fact(.int32, [3])],
      expected: .error("input 'input' must be floating-point, got int32")),
    ComputeShapeCase(
      name: "refuses a vector bound", type: "Clip", opset: 13,
      inputs: [fact(.float, [3]), fact(.float, [2])],
      expected: .error("input 'min' must be a scalar, got shape [2]")),
    ComputeShapeCase(
      name: "refuses a bound of another type", type: "Clip", opset: 13,
      inputs: [fact(.float, [3]), fact(.double, [])],
      expected: .error("input 'min' has type float64 but 'input' has float32")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let evalCases: [ComputeEvalCase] = [
    ComputeEvalCase(
      name: "clamps to both bounds", type: "Clip", opset: 13,
      inputs: [floats([-2, 0, 2, .nan], [4]), floats([-1], []), floats([1], [])],
      expected: [floats([-1, 0, 1, .nan], [4])]),
    ComputeEvalCase(
      name: "is unbounded without inputs", type: "Clip", opset: 13,
      inputs: [floats([-1e30, 1e30], [2]), nil, nil], expected: [floats([-1e30, 1e30], [2])]),
    ComputeEvalCase(
      name: "gives max when min exceeds it", type: "Clip", opset: 13,
      inputs: [floats([-5, 0, 5], [3]), floats([2], []), floats([1], [])],
      expected: [floats([1, 1, 1], [3])]),
    ComputeEvalCase(
      name: "clamps int8 exactly", type: "Clip", opset: 13,
      inputs: [typed(.int8, [-128, 0, 127], [3]), typed(.int8, [-5], []), nil],
      expected: [typed(.int8, [-5, 0, 127], [3])]),
    ComputeEvalCase(
      name: "reads attribute bounds", type: "Clip",
      attributes: ["min": .float(-0.5), "max": .float(0.5)], opset: 6,
      inputs: [floats([-1, 0.25, 1], [3])], expected: [floats([-0.5, 0.25, 0.5], [3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }
}
