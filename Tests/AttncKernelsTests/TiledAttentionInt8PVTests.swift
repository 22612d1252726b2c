@testable import AttncKernels
import AttncTensor
import AttncTestSupport
import CAttnc
import Foundation
import Testing

/// The fused kernel in int8pv precision against a Double reference of its own math: the scores
/// as in int8 (`TiledAttentionInt8Tests.scoring`), the bfloat16 kernel's online softmax
/// (`TiledAttentionBFloat16Tests`) with the probabilities of each row and panel of 32 keys as
/// `round(p·255/m)·m/255` (m the panel's largest) and V quantized to int8 per value column of
/// each head, the products exact. Every instruction set the machine has is checked (AVX512-VNNI
/// where present, plain C under the AVX2 and portable limits).
@Suite struct TiledAttentionInt8PVTests {
  typealias Case = TiledAttentionTests.Case

  /// V as the int8 P·V sees it: per value column of each key/value head, `s · round(v / s)` with
  /// `s = max|v| / 127` over the column's keys (a column holding NaN or ±inf is NaN).
  static func values(_ c: Case) -> [Float] {
    var v = TiledAttentionTests.operands(c).v.floats.owned
    for head in 0..<(c.batch * c.kvHeads) {
      for e in 0..<c.valueDepth {
        let indices = (0..<c.keys).map { (head * c.keys + $0) * c.valueDepth + e }
        let finite = indices.allSatisfy { v[$0].isFinite }
        let top = indices.reduce(Float(0)) { max($0, abs(v[$1])) }
        for index in indices {
          let step = top > 0 ? min(127, max(-127, (v[index] * (127 / top)).rounded(.toNearestOrEven))) : 0
          v[index] = finite ? top / 127 * step : .nan
        }
      }
    }
    return v
  }

  /// A panel of 32 probabilities as the int8 P·V sees them: `round(p·255/m)·m/255`, m the panel's
  /// largest.
  static func probabilities(_ p: [Float]) -> [Float] {
    let top = p.max() ?? 0
    guard top > 0 else { return p.map { _ in 0 } }
    return p.map { ($0 * (255 / top)).rounded(.toNearestOrEven) * (top / 255) }
  }

  static func reference(_ c: Case, queryBlock: Int, keyBlock: Int, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    TiledAttentionBFloat16Tests.reference(
      c, keyBlock: TiledAttentionBFloat16Tests.keyBlock(keyBlock, keys: c.keys),
      scoring: TiledAttentionInt8Tests.scoring(c, queryBlock: queryBlock), values: values(c), probabilities: probabilities, add: add)
  }

  /// Per output row, 1e-4 plus what one probability rounded to the other side of a half step
  /// moves it: `p·255/m` within float rounding of `k + ½` may round either way in the kernel
  /// (its float scores and exponential) and in the Double reference, a change of at most `1/255`
  /// in one `p`, `max|v| / (255 · Σp)` in the output (`Σp` the row's sum against its maximum).
  static func tolerances(_ c: Case, queryBlock: Int, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    let (q, k) = TiledAttentionInt8Tests.scoring(c, queryBlock: queryBlock)
    let top = values(c).reduce(Float(0)) { max($0, abs($1)) }
    var tolerances = [Float](repeating: 1e-4, count: c.batch * c.heads * c.queries)
    TiledAttentionTests.forEachRow(c) { b, h, _, i in
      let scores = TiledAttentionTests.scores(c, q: q, k: k, b, h, i, add: add)
      guard let largest = scores.max(), largest > -.infinity else { return }
      let total = scores.reduce(0.0) { $0 + Foundation.exp($1 - largest) }
      tolerances[(b * c.heads + h) * c.queries + i] += Float(Double(top) / (255 * total))
    }
    return tolerances
  }

  func check(
    _ c: Case, _ kernels: TiledAttention.Kernels, _ mask: TiledAttention.Mask = .none, queryBlock: Int = 16, keyBlock: Int = 64,
    add: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
  ) throws {
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(
      scale: c.scale, causal: c.causal, softcap: c.softcap, queryBlock: queryBlock, keyBlock: keyBlock, kernels: kernels)
    options.precision = .int8pv
    options.rowKernel = false
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options)
    let expected = Self.reference(c, queryBlock: queryBlock, keyBlock: keyBlock, add: add)
    let tolerances = Self.tolerances(c, queryBlock: queryBlock, add: add)
    let actual = y.floats.owned
    let over = actual.indices.filter { abs(actual[$0] - expected[$0]) >= tolerances[$0 / c.valueDepth] }
    #expect(over.isEmpty, "\(kernels): \(over.count) outputs off, first \(over.first.map { "\(actual[$0]) vs \(expected[$0])" } ?? "")")
    // A rounding flip is rare: at most 1% of the rows (and one) may use the allowance.
    let flipped = Set(actual.indices.filter { abs(actual[$0] - expected[$0]) >= 1e-4 }.map { $0 / c.valueDepth })
    #expect(flipped.count <= max(1, tolerances.count / 100), "\(kernels): \(flipped.count) of \(tolerances.count) rows off by more than 1e-4")
    #expect(!actual.contains { $0.isNaN })
  }

  @Test(arguments: TiledAttention.Kernels.allCases, TiledAttentionBFloat16Tests.cases)
  func everyInstructionSetMatchesTheQuantizedReference(_ kernels: TiledAttention.Kernels, _ c: Case) throws {
    try check(c, kernels, keyBlock: 32)
  }

  /// ViT-S's 257 tokens and an odd 1500 over several key blocks, heads of 64, default tiling.
  @Test(arguments: [(257, false), (1500, false), (257, true)])
  func oddLengths(_ length: Int, _ causal: Bool) throws {
    let c = Case(batch: 1, heads: 1, kvHeads: 1, queries: length, keys: length, depth: 64, valueDepth: 64, scale: 0.125, causal: causal)
    try check(c, .widest, queryBlock: 256, keyBlock: 512)
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func keyPaddingAndBias(_ kernels: TiledAttention.Kernels) throws {
    for (c, mask, add) in TiledAttentionBFloat16Tests.maskedCases() { try check(c, kernels, mask, keyBlock: 32, add: add) }
  }

  /// Per-head precision under int8pv: head 0 float32, head 2 bfloat16 (`bf16heads`), heads 1 and
  /// 3 int8pv, GQA heads of one key/value head mixed; each against its own reference.
  @Test(arguments: TiledAttention.Kernels.allCases)
  func headsMixPrecisions(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 4, kvHeads: 2, queries: 21, keys: 70, depth: 24, valueDepth: 24, scale: 0.3, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(scale: c.scale, causal: true, queryBlock: 16, keyBlock: 32, kernels: kernels)
    (options.precision, options.float32Heads, options.bfloat16Heads) = (.int8pv, 0b0001, 0b0100)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: options).floats
    let none: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
    let expected = [
      TiledAttentionTests.reference(c, add: none), Self.reference(c, queryBlock: 16, keyBlock: 32, add: none),
      TiledAttentionBFloat16Tests.reference(c, keyBlock: TiledAttentionBFloat16Tests.keyBlock(32, keys: c.keys), add: none),
    ]
    let tolerances = Self.tolerances(c, queryBlock: 16, add: none)
    let size = c.queries * c.valueDepth
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let rows = ((b * c.heads + h) * size)..<((b * c.heads + h + 1) * size)
        let kind = h == 0 ? 0 : h == 2 ? 2 : 1
        for index in rows {
          let limit = kind == 0 ? 1e-5 : kind == 2 ? 1e-4 : tolerances[index / c.valueDepth]
          #expect(abs(y[index] - expected[kind][index]) < limit, "batch \(b) head \(h) output \(index)")
        }
      }
    }
    #expect((0..<4).map(options.precision(ofHead:)) == [.float32, .int8pv, .bfloat16, .int8pv])
  }

  /// The setting parses, prints and reaches the kernel; against int8 (P·V in bf16) it moves the
  /// outputs, within a few percent.
  @Test func precisionIsAVariantParameter() throws {
    let (definition, parameters) = try AttentionVariants.parse("softmax:prec=int8pv,bf16heads=1")
    #expect(definition.text(parameters.values) == "softmax:bf16heads=1,prec=int8pv")
    #expect(!definition.isExact(parameters))
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 40, keys: 40, depth: 16, valueDepth: 16)
    let (q, k, v) = TiledAttentionTests.operands(c)
    func run(_ values: [String: Double]) throws -> [Float] {
      let call = FusedAttentionCall(scale: c.scale, causal: false, softcap: 0, mask: .none, maskFill: 0, variantValues: values)
      return try call.evaluate(KernelContext(), [q, k, v])[0].floats.owned
    }
    let difference = Reference.maxDifference(try run(["prec": 3]), try run(["prec": 2]))
    #expect(difference > 1e-5 && difference < 0.05, "int8pv against int8: \(difference)")
  }
}
