import AttncCost
import AttncKernels
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Gemma 2's attention logit softcapping, `c·tanh(s / c)` between the scaled scores and the
/// mask, is matched into the fused attention's softcap (both torch exporters write it so, with
/// a Div or a Mul by `1/c`) and computes `softmax(c·tanh(scale·q·kᵀ / c) + mask)·v`.
@Suite struct SoftcapAttentionTests {
  static let (heads, queries, depth, valueDepth) = (2, 5, 4, 3)
  static let (scale, cap): (Float, Float) = (0.5, 1.5)

  /// `q [1, 2, 5, 4]`, `kt [1, 2, 4, 5]`, `v [1, 2, 5, 3]`, `mask [1, 1, 5, 5]` → the capped
  /// attention; `squash` is the node that divides the scaled scores by the cap, writing `d`
  /// from `ss`.
  static func model(squash: (String, [String]), outerCap: Float = cap) throws -> String {
    let dir = try Fixtures.temporaryDirectory()
    return try OnnxBuilder()
      .input("q", ["1", "2", "5", "4"]).input("kt", ["1", "2", "4", "5"]).input("v", ["1", "2", "5", "3"])
      .input("mask", ["1", "1", "5", "5"])
      .initializer(.init(name: "scale", dims: [], floats: [scale]))
      .initializer(.init(name: "cap", dims: [], floats: [cap]))
      .initializer(.init(name: "inverse_cap", dims: [], floats: [1 / cap]))
      .initializer(.init(name: "outer_cap", dims: [], floats: [outerCap]))
      .node("MatMul", ["q", "kt"], ["s"])
      .node("Mul", ["s", "scale"], ["ss"])
      .node(squash.0, squash.1, ["d"])
      .node("Tanh", ["d"], ["t"])
      .node("Mul", ["t", "outer_cap"], ["c"])
      .node("Add", ["c", "mask"], ["a"])
      .node("Softmax", ["a"], ["p"], attributes: [("axis", -1)])
      .node("MatMul", ["p", "v"], ["y"])
      .output("y")
      .write(to: dir)
  }

  static let spellings: [String: (String, [String])] = [
    "div": ("Div", ["ss", "cap"]),
    "mul-inverse": ("Mul", ["ss", "inverse_cap"]),
    "mul-inverse-first": ("Mul", ["inverse_cap", "ss"]),
  ]

  @Test(arguments: spellings.keys.sorted())
  func softcapIsMatchedAndComputed(spelling: String) throws {
    let path = try Self.model(squash: Self.spellings[spelling]!)
    defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent()) }
    let report = MatchAttention.analyze(try ModelLoader.load(path).canonical)
    #expect(report.declined.isEmpty, "\(spelling): \(report.declined.map(\.reason))")
    let spec = try #require(report.matches.first?.spec, "\(spelling)")
    #expect(spec.scores.softcap == Self.cap && spec.scale == Self.scale && spec.mask == .bias, "\(spelling)")

    var options = ConversionOptions()
    options.policy = .exact
    let plan = try Compiler.convert(path, conversion: options).plan
    #expect(plan.instructions.contains { $0.kernel == "FusedAttention" }, "\(spelling)")
    #expect(!plan.instructions.contains { $0.kernel == "Tanh" }, "\(spelling): \(plan.instructions.map(\.kernel))")
    let (h, s, d, dv) = (Self.heads, Self.queries, Self.depth, Self.valueDepth)
    let q = SeededValues.floats(h * s * d, seed: 1, amplitude: 4)
    let kt = SeededValues.floats(h * d * s, seed: 2, amplitude: 4)
    let v = SeededValues.floats(h * s * dv, seed: 3)
    var mask = [Float](repeating: 0, count: s * s)
    mask[3] = -1e9  // query 0 does not see key 3
    let output = try Interpreter(plan: plan).run([
      HostTensor(floats: q, shape: [1, h, s, d]), HostTensor(floats: kt, shape: [1, h, d, s]),
      HostTensor(floats: v, shape: [1, h, s, dv]), HostTensor(floats: mask, shape: [1, 1, s, s]),
    ])
    let y = Tensor(output[0]).floats.owned
    let bias = (0..<h).flatMap { _ in mask }
    let expected = ScoresReference.attention(
      q: q, kt: kt, v: v, bias: bias, shape: (h, s, s, d, dv), scale: Double(Self.scale), cap: Double(Self.cap))
    #expect(Reference.maxDifference(y, expected) < 1e-5, "\(spelling): \(Reference.maxDifference(y, expected))")
  }

  @Test func differentCapsInsideAndOutsideTheTanhAreDeclined() throws {
    let path = try Self.model(squash: Self.spellings["div"]!, outerCap: 2 * Self.cap)
    defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent()) }
    let report = MatchAttention.analyze(try ModelLoader.load(path).canonical)
    #expect(report.matches.isEmpty)
    #expect(report.declined.first?.reason.contains("is a scaled Q·Kᵀ product") == true, "\(report.declined.map(\.reason))")
  }
}

/// Attention with the score forms exporters write, in Double, as the formula reads.
enum ScoresReference {
  /// `softmax_j(softcap(scale·q_i·k_j) + bias_ij)·v_j` per head, `softcap(x) = cap·tanh(x / cap)`
  /// (none when `cap` is 0): `q [H, S, d]`, `kt [H, d, L]`, `v [H, L, dv]`, `bias [H, S, L]`,
  /// all flattened; the result `[H, S, dv]`.
  static func attention(
    q: [Float], kt: [Float], v: [Float], bias: [Float], shape: (heads: Int, queries: Int, keys: Int, depth: Int, valueDepth: Int),
    scale: Double, cap: Double
  ) -> [Float] {
    let (h, s, l, d, dv) = shape
    var result: [Float] = []
    for head in 0..<h {
      for i in 0..<s {
        let scores = (0..<l).map { j -> Double in
          let dot = (0..<d).reduce(0.0) { $0 + Double(q[(head * s + i) * d + $1]) * Double(kt[(head * d + $1) * l + j]) }
          let scaled = scale * dot
          return (cap > 0 ? cap * tanh(scaled / cap) : scaled) + Double(bias[(head * s + i) * l + j])
        }
        let top = scores.max() ?? 0
        let weights = scores.map { exp($0 - top) }
        let total = weights.reduce(0, +)
        for c in 0..<dv {
          result.append(Float((0..<l).reduce(0.0) { $0 + weights[$1] * Double(v[(head * l + $1) * dv + c]) } / total))
        }
      }
    }
    return result
  }
}
