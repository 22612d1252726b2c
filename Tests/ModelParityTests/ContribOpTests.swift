import AttncCost
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// ONNX Runtime contrib ops (`com.microsoft`) from import to the interpreter, each against a
/// plain Double formula.
@Suite struct ContribOpTests {
  /// Converts a one-node model of `type` in the `com.microsoft` domain over `x` [2, 5] and
  /// runs it.
  static func run(_ type: String, inputs: [Float], bias: [Float]? = nil) throws -> (plan: Plan, output: [Float]) {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var builder = OnnxBuilder().input("x", ["2", "5"])
    if let bias { builder = builder.initializer(.init(name: "b", dims: [5], floats: bias)) }
    let path = try builder
      .node(type, bias == nil ? ["x"] : ["x", "b"], ["y"], domain: "com.microsoft")
      .output("y")
      .with(opsets: [("", 17), ("com.microsoft", 1)])
      .write(to: dir)
    var options = ConversionOptions()
    options.policy = .exact
    let plan = try Compiler.convert(path, conversion: options).plan
    let output = try Interpreter(plan: plan).run([HostTensor(floats: inputs, shape: [2, 5])])
    return (plan, Tensor(output[0]).floats.owned)
  }

  static let x: [Float] = [-4, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 3]

  @Test func quickGeluIsXTimesSigmoidOfAlphaX() throws {
    let (plan, y) = try Self.run("QuickGelu", inputs: Self.x)
    #expect(plan.instructions.map(\.kernel) == ["Swish"])
    for (value, result) in zip(Self.x, y) {
      let v = Double(value)
      let expected = v / (1 + exp(-1.702 * v))
      #expect(abs(Double(result) - expected) <= 1e-6 + 1e-5 * abs(expected), "x = \(value)")
    }
  }

  @Test func quickGeluRefusesIntegerInputs() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder()
      .input("x", dataType: 7, ["3"])
      .node("QuickGelu", ["x"], ["y"], domain: "com.microsoft")
      .output("y", dataType: 7)
      .with(opsets: [("", 17), ("com.microsoft", 1)])
      .write(to: dir)
    #expect {
      _ = try ModelLoader.load(path)
    } throws: { error in
      "\(error)".contains("input 'X' must be floating-point, got int64")
    }
  }

  static let bias: [Float] = [0.5, -1, 0, 2, -0.25]

  static func geluErf(_ v: Double) -> Double { 0.5 * v * (1 + erf(v / 2.0.squareRoot())) }
  static func geluTanh(_ v: Double) -> Double { 0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))) }

  /// `expected(x + bias)` element by element, bias along the last axis of [2, 5].
  static func check(_ y: [Float], bias: [Float]?, _ expected: (Double) -> Double) {
    for (i, (value, result)) in zip(x, y).enumerated() {
      let v = Double(value) + Double(bias?[i % 5] ?? 0)
      #expect(abs(Double(result) - expected(v)) <= 1e-6 + 1e-5 * abs(expected(v)), "element \(i)")
    }
  }

  @Test func microsoftGeluIsTheErfGelu() throws {
    let (plan, y) = try Self.run("Gelu", inputs: Self.x)
    #expect(plan.instructions.map(\.kernel) == ["Gelu"])
    Self.check(y, bias: nil, Self.geluErf)
  }

  @Test func biasGeluAddsTheBiasThenTakesTheErfGelu() throws {
    let (plan, y) = try Self.run("BiasGelu", inputs: Self.x, bias: Self.bias)
    #expect(plan.instructions.map(\.kernel) == ["BiasGelu"])
    Self.check(y, bias: Self.bias, Self.geluErf)
  }

  @Test func fastGeluIsTheTanhGeluWithOrWithoutBias() throws {
    Self.check(try Self.run("FastGelu", inputs: Self.x, bias: Self.bias).output, bias: Self.bias, Self.geluTanh)
    Self.check(try Self.run("FastGelu", inputs: Self.x).output, bias: nil, Self.geluTanh)
  }

  /// `x + skip + bias` of the fixed inputs, [2, 5].
  static let skip: [Float] = [1, 0.5, -2, 0.25, 3, -1, 0, 1.5, -0.5, 2]
  static let gamma: [Float] = [1, 2, 0.5, -1, 1.5], beta: [Float] = [0, 0.1, -0.2, 0.3, 0]

  static func runSkipNorm(_ type: String, outputs: [String], vectors: [(String, [Float])]) throws -> [[Float]] {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var builder = OnnxBuilder().input("x", ["2", "5"]).input("skip", ["2", "5"])
    for (name, values) in vectors { builder = builder.initializer(.init(name: name, dims: [5], floats: values)) }
    builder = builder.node(type, ["x", "skip"] + vectors.map(\.0), outputs, domain: "com.microsoft")
    for output in outputs { builder = builder.output(output) }
    let path = try builder.with(opsets: [("", 17), ("com.microsoft", 1)]).write(to: dir)
    var options = ConversionOptions()
    options.policy = .exact
    let plan = try Compiler.convert(path, conversion: options).plan
    let results = try Interpreter(plan: plan).run([
      HostTensor(floats: x, shape: [2, 5]), HostTensor(floats: skip, shape: [2, 5]),
    ])
    return results.map { Tensor($0).floats.owned }
  }

  @Test func skipLayerNormalizationNormalizesTheResidualSum() throws {
    let outputs = try Self.runSkipNorm(
      "SkipLayerNormalization", outputs: ["y", "mean", "inverse", "sum"],
      vectors: [("gamma", Self.gamma), ("beta", Self.beta), ("bias", Self.bias)])
    for row in 0..<2 {
      let s = (0..<5).map { Double(Self.x[row * 5 + $0]) + Double(Self.skip[row * 5 + $0]) + Double(Self.bias[$0]) }
      let mean = s.reduce(0, +) / 5
      let variance = s.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5
      let inverse = 1 / (variance + 1e-12).squareRoot()
      for j in 0..<5 {
        let expected = (s[j] - mean) * inverse * Double(Self.gamma[j]) + Double(Self.beta[j])
        #expect(abs(Double(outputs[0][row * 5 + j]) - expected) <= 1e-5, "y[\(row), \(j)]")
        #expect(abs(Double(outputs[3][row * 5 + j]) - s[j]) <= 1e-6, "sum[\(row), \(j)]")
      }
      #expect(abs(Double(outputs[1][row]) - mean) <= 1e-6)
      #expect(abs(Double(outputs[2][row]) - inverse) <= 1e-5 * inverse)
    }
  }

  @Test func skipSimplifiedLayerNormalizationIsRMSNormOfTheSum() throws {
    let outputs = try Self.runSkipNorm(
      "SkipSimplifiedLayerNormalization", outputs: ["y"], vectors: [("gamma", Self.gamma), ("bias", Self.bias)])
    for row in 0..<2 {
      let s = (0..<5).map { Double(Self.x[row * 5 + $0]) + Double(Self.skip[row * 5 + $0]) + Double(Self.bias[$0]) }
      let inverse = 1 / (s.map { $0 * $0 }.reduce(0, +) / 5 + 1e-12).squareRoot()
      for j in 0..<5 {
        let expected = s[j] * inverse * Double(Self.gamma[j])
        #expect(abs(Double(outputs[0][row * 5 + j]) - expected) <= 1e-5, "y[\(row), \(j)]")
      }
    }
  }

  /// `do_rotary` stays unsupported and is refused by node and reason; the unidirectional
  /// (causal) and bidirectional forms expand into standard ops and are matched as attention.
  @Test func contribAttentionFormsAreExpandedOrRefusedByName() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    func model(_ attributes: [(String, Int64)], _ name: String) throws -> String {
      try OnnxBuilder()
        .input("x", ["1", "4", "8"])
        .initializer(.init(name: "w", dims: [8, 24], floats: (0..<192).map { Float($0 % 7) * 0.1 }))
        .node("Attention", ["x", "w"], ["y"], name: "attention", attributes: [("num_heads", 2)] + attributes, domain: "com.microsoft")
        .output("y")
        .with(opsets: [("", 17), ("com.microsoft", 1)])
        .write(to: dir, name: name)
    }
    var options = ConversionOptions()
    options.policy = .exact
    #expect {
      _ = try Compiler.convert(try model([("do_rotary", 1)], "rotary.onnx"), conversion: options)
    } throws: { error in
      "\(error)".contains("node 'attention' (Attention)") && "\(error)".contains("do_rotary is not supported")
    }
    for (attributes, causal) in [([("unidirectional", Int64(1))], true), ([], false)] {
      let plan = try Compiler.convert(try model(attributes, "attention_\(causal).onnx"), conversion: options).plan
      let attention = plan.instructions.compactMap { $0.call as? FusedAttentionCall }
      #expect(attention.count == 1 && attention[0].causal == causal)
    }
  }
}
