import AttncCost
import AttncKernels
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Scores with two additive terms, `(scale·q·kᵀ + bias) + mask` (MPNet's relative position bias,
/// then the padding mask), are matched: the bias and the mask are summed into the fused
/// attention's one additive bias.
@Suite struct PositionBiasAttentionTests {
  static let (heads, queries, depth, valueDepth) = (2, 5, 4, 3)

  /// `Add(Add(Div(MatMul(q, kt), 2), bias), mask)` → Softmax → MatMul(·, v); the inner Add's
  /// operands swapped when `biasFirst`.
  static func model(biasFirst: Bool) throws -> String {
    let dir = try Fixtures.temporaryDirectory()
    return try OnnxBuilder()
      .input("q", ["b", "2", "5", "4"]).input("kt", ["b", "2", "4", "5"]).input("v", ["b", "2", "5", "3"])
      .input("bias", ["b", "2", "5", "5"]).input("mask", ["b", "1", "1", "5"])
      .initializer(.init(name: "two", dims: [], floats: [2]))
      .node("MatMul", ["q", "kt"], ["s"])
      .node("Div", ["s", "two"], ["ss"])
      .node("Add", biasFirst ? ["bias", "ss"] : ["ss", "bias"], ["sb"])
      .node("Add", ["sb", "mask"], ["a"])
      .node("Softmax", ["a"], ["p"], attributes: [("axis", -1)])
      .node("MatMul", ["p", "v"], ["y"])
      .output("y")
      .write(to: dir)
  }

  @Test(arguments: [false, true])
  func biasAndMaskAreSummedIntoOneAdditiveBias(biasFirst: Bool) throws {
    let path = try Self.model(biasFirst: biasFirst)
    defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent()) }
    let report = MatchAttention.analyze(try ModelLoader.load(path).canonical)
    #expect(report.declined.isEmpty, "\(report.declined.map(\.reason))")
    let spec = try #require(report.matches.first?.spec)
    #expect(spec.scale == 0.5 && spec.mask == .bias && !spec.causal)

    var options = ConversionOptions()
    options.policy = .exact
    let plan = try Compiler.convert(path, conversion: options).plan
    #expect(plan.instructions.filter { $0.kernel == "FusedAttention" }.count == 1)
    #expect(!plan.instructions.contains { $0.kernel == "Softmax" }, "\(plan.instructions.map(\.kernel))")
    let (h, s, d, dv) = (Self.heads, Self.queries, Self.depth, Self.valueDepth)
    let q = SeededValues.floats(h * s * d, seed: 1, amplitude: 2)
    let kt = SeededValues.floats(h * d * s, seed: 2, amplitude: 2)
    let v = SeededValues.floats(h * s * dv, seed: 3)
    let bias = SeededValues.floats(h * s * s, seed: 4, amplitude: 2)
    let mask: [Float] = [0, 0, 0, -1e9, -1e9]  // the last two keys are padding
    let output = try Interpreter(plan: plan).run([
      HostTensor(floats: q, shape: [1, h, s, d]), HostTensor(floats: kt, shape: [1, h, d, s]),
      HostTensor(floats: v, shape: [1, h, s, dv]), HostTensor(floats: bias, shape: [1, h, s, s]),
      HostTensor(floats: mask, shape: [1, 1, 1, s]),
    ])
    let y = Tensor(output[0]).floats.owned
    let summed = bias.indices.map { bias[$0] + mask[$0 % s] }
    let expected = ScoresReference.attention(q: q, kt: kt, v: v, bias: summed, shape: (h, s, s, d, dv), scale: 0.5, cap: 0)
    #expect(Reference.maxDifference(y, expected) < 1e-5, "\(Reference.maxDifference(y, expected))")
  }

  @Test func threeAdditiveTermsAreDeclined() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder()
      .input("q", ["1", "2", "5", "4"]).input("kt", ["1", "2", "4", "5"]).input("v", ["1", "2", "5", "3"])
      .input("b1", ["1", "2", "5", "5"]).input("b2", ["1", "2", "5", "5"]).input("mask", ["1", "1", "1", "5"])
      .node("MatMul", ["q", "kt"], ["s"])
      .node("Add", ["s", "b1"], ["s1"])
      .node("Add", ["s1", "b2"], ["s2"])
      .node("Add", ["s2", "mask"], ["a"])
      .node("Softmax", ["a"], ["p"], attributes: [("axis", -1)])
      .node("MatMul", ["p", "v"], ["y"])
      .output("y")
      .write(to: dir)
    let report = MatchAttention.analyze(try ModelLoader.load(path).canonical)
    #expect(report.matches.isEmpty)
    #expect(report.declined.first?.reason.contains("is a scaled Q·Kᵀ product") == true, "\(report.declined.map(\.reason))")
  }
}
