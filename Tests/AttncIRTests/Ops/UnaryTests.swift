import AttncTensor
import Foundation
import Testing

@testable import AttncIR

@Suite struct UnaryTests: UsesComputeFixtures {
  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "keeps a symbolic shape", type: "Exp", opset: 13,
      inputs: [fact(.float, [batch, seq, 768])],
      expected: .types([TensorType(.float, [batch, seq, 768])])),
    ComputeShapeCase(
      name: "keeps float16", type: "Gelu", attributes: ["approximate": .string("tanh")], opset: 20,
      inputs: [fact(.float16, [seq])], expected: .types([TensorType(.float16, [seq])])),
    ComputeShapeCase(
      name: "gives bool for IsNaN", type: "IsNaN", opset: 20, inputs: [fact(.float, [batch, 4])],
      expected: .types([TensorType(.bool, [batch, 4])])),
    ComputeShapeCase(
      name: "gives bool for IsInf", type: "IsInf", opset: 20, inputs: [fact(.float16, [2])],
      expected: .types([TensorType(.bool, [2])])),
    ComputeShapeCase(
      name: "takes integers for Neg", type: "Neg", opset: 13, inputs: [fact(.int64, [3])],
      expected: .types([TensorType(.int64, [3])])),
    ComputeShapeCase(
      name: "takes bool for Not", type: "Not", opset: 1, inputs: [fact(.bool, [batch])],
      expected: .types([TensorType(.bool, [batch])])),
    ComputeShapeCase(
      name: "refuses integers for Exp", type: "Exp", opset: 13, inputs: [fact(.int64, [3])],
      expected: .error("input 'X' must be floating-point, got int64")),
    ComputeShapeCase(
      name: "refuses floats for Not", type: "Not", opset: 1, inputs: [fact(.float, [3])],
      expected: .error("input 'X' must be bool, got float32")),
    ComputeShapeCase(
      name: "refuses two inputs", type: "Relu", opset: 14,
      inputs: [fact(.float, [3]), fact(.float, [3])], expected: .error("expects 1 inputs, got 2")),
    ComputeShapeCase(
      name: "refuses an unknown approximation", type: "Gelu",
      attributes: ["approximate": .string("erf")], opset: 20, inputs: [fact(.float, [3])],
      expected: .error("attribute 'approximate' must be 'none' or 'tanh', got 'erf'")),
    ComputeShapeCase(
      name: "is not defined before its opset", type: "Swish", opset: 23,
      inputs: [fact(.float, [3])], expected: .unsupported),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  static let x: [Float] = [-2, -0.5, 0, 0.5, 2]

  static func unary(
    _ type: String, _ attributes: [String: AttributeValue] = [:], opset: Int = 22,
    input: HostTensor = floats(x, [5]), _ f: (Double) -> Double
  ) -> ComputeEvalCase {
    let expected = input.doubles().map(f).map { Float($0) }
    return ComputeEvalCase(
      name: "matches its formula", type: type, attributes: attributes, opset: opset,
      inputs: [input], expected: [floats(expected, input.shape)])
  }

  static func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

  static let evalCases: [ComputeEvalCase] = [
    unary("Abs") { abs($0) },
    unary("Ceil") { $0.rounded(.up) },
    unary("Floor") { $0.rounded(.down) },
    unary("Cos") { cos($0) },
    unary("Sin") { sin($0) },
    unary("Erf") { erf($0) },
    unary("Exp") { exp($0) },
    unary("Log", input: floats([0.5, 1, 2], [3])) { log($0) },
    unary("Sqrt", input: floats([0.25, 1, 4], [3])) { $0.squareRoot() },
    unary("Neg") { -$0 },
    unary("Reciprocal", input: floats([-2, 0.5, 4], [3])) { 1 / $0 },
    unary("Relu") { max(0, $0) },
    unary("Sigmoid") { sigmoid($0) },
    unary("Sign") { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
    unary("Tanh") { tanh($0) },
    unary("Softplus") { log(1 + exp($0)) },
    unary("Mish") { $0 * tanh(log(1 + exp($0))) },
    unary("HardSwish") { $0 * max(0, min(1, $0 / 6 + 0.5)) },
    unary("HardSigmoid") { max(0, min(1, 0.2 * $0 + 0.5)) },
    unary("HardSigmoid", ["alpha": .float(0.5), "beta": .float(0.25)]) {
      max(0, min(1, 0.5 * $0 + 0.25))
    },
    unary("LeakyRelu", opset: 16) { $0 < 0 ? 0.01 * $0 : $0 },
    unary("LeakyRelu", ["alpha": .float(0.1)], opset: 16) { $0 < 0 ? 0.1 * $0 : $0 },
    unary("Gelu", opset: 20) { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) },
    unary("Gelu", ["approximate": .string("tanh")], opset: 20) {
      0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0)))
    },
    unary("Swish", opset: 24) { $0 * sigmoid($0) },
    unary("Swish", ["alpha": .float(2)], opset: 24) { $0 * sigmoid(2 * $0) },
    ComputeEvalCase(
      name: "rounds half to even", type: "Round", opset: 22,
      inputs: [floats([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6], [7])],
      expected: [floats([-2, -2, -0, 0, 2, 2, 3], [7])]),
    ComputeEvalCase(
      name: "is exact on int64", type: "Abs", opset: 13,
      inputs: [int64s([-9_007_199_254_740_993, 3], [2])],
      expected: [int64s([9_007_199_254_740_993, 3], [2])]),
    ComputeEvalCase(
      name: "wraps int8", type: "Neg", opset: 13, inputs: [typed(.int8, [-128, 5], [2])],
      expected: [typed(.int8, [-128, -5], [2])]),
    ComputeEvalCase(
      name: "gives integer signs", type: "Sign", opset: 13, inputs: [int64s([-7, 0, 7], [3])],
      expected: [int64s([-1, 0, 1], [3])]),
    ComputeEvalCase(
      name: "negates bools", type: "Not", opset: 1, inputs: [bools([true, false], [2])],
      expected: [bools([false, true], [2])]),
    ComputeEvalCase(
      name: "finds NaNs", type: "IsNaN", opset: 20, inputs: [floats([.nan, 1, .infinity], [3])],
      expected: [bools([true, false, false], [3])]),
    ComputeEvalCase(
      name: "finds negative infinities only", type: "IsInf",
      attributes: ["detect_positive": .int(0)], opset: 20,
      inputs: [floats([-.infinity, .infinity, 1, .nan], [4])],
      expected: [bools([true, false, false, false], [4])]),
    ComputeEvalCase(
      name: "computes in float16", type: "Exp", opset: 13,
      inputs: [HostTensor(dtype: .float16, shape: [2], converting: [0, 1])],
      expected: [HostTensor(dtype: .float16, shape: [2], converting: [1, 2.71875])]),
    ComputeEvalCase(
      name: "keeps NaN through Relu", type: "Relu", opset: 14, inputs: [floats([.nan], [1])],
      expected: [floats([.nan], [1])]),
    ComputeEvalCase(
      name: "does not overflow Softplus", type: "Softplus", opset: 22,
      inputs: [floats([1000, -1000], [2])], expected: [floats([1000, 0], [2])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: ComputeEvalCase) throws { try c.check() }

  @Test func registersEveryFunctionOnce() {
    for item in Unary.types {
      #expect(OpRegistry.entry(domain: "", type: item.type)?.since == item.since)
    }
    #expect(Set(Unary.types.map(\.type)).count == Unary.types.count)
  }

  @Test func refusesStringsWhenEvaluating() throws {
    // Folding runs the op's shape rule before its kernel: a string input never reaches it.
    let op = Unary(.exp)
    #expect(throws: AttncError.invalid("input 'X' must be floating-point, got string")) {
      try op.evaluate([HostTensor(strings: ["a"], shape: [1])], outputCount: 1)
    }
  }
}
