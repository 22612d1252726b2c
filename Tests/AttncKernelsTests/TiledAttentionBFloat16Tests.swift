@testable import AttncKernels
import AttncTensor
import AttncTestSupport
import CAttnc
import Foundation
import Testing

/// The fused kernel in bfloat16 precision against a Double reference of its own math: exact
/// attention over Q, K, V rounded to bfloat16, each key block's probabilities rounded to bfloat16
/// against the row's running maximum (as the online softmax has it then), the sums over the
/// unrounded probabilities. Every instruction set the machine has is checked (AVX512-BF16 where
/// present; elsewhere the float32 loops on rounded operands).
@Suite struct TiledAttentionBFloat16Tests {
  typealias Case = TiledAttentionTests.Case

  /// The bfloat16 nearest `x` (ties to even), as a Float.
  static func rounded(_ x: Float) -> Float {
    guard !x.isNaN else { return x }
    let bits = x.bitPattern
    return Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
  }

  /// The kernel's key block for `keyBlock` keys per step: rounded up to the panel width.
  static func keyBlock(_ requested: Int, keys: Int) -> Int {
    let panel = attnc_attention_panel_width()
    return (max(1, min(requested, keys)) + panel - 1) / panel * panel
  }

  /// Exact attention over the rounded operands with the kernel's probability rounding, in Double;
  /// the scores from `scoring` (Q and K as the products see them) when given, else from Q and K
  /// rounded to bfloat16; V as the products see it (`values`, else rounded to bfloat16) and the
  /// probabilities of each panel of 32 keys through `probabilities` (else each rounded to bfloat16).
  static func reference(
    _ c: Case, keyBlock: Int, scoring: (q: [Float], k: [Float])? = nil, values: [Float]? = nil,
    probabilities: ([Float]) -> [Float] = { $0.map(rounded) }, add: (Int, Int, Int, Int) -> Float
  ) -> [Float] {
    let (q, k, v) = TiledAttentionTests.operands(c)
    let (qr, kr) = scoring ?? (q.floats.map(rounded), k.floats.map(rounded))
    let vr = values ?? v.floats.map(rounded)
    var y = [Float](repeating: 0, count: c.batch * c.heads * c.queries * c.valueDepth)
    TiledAttentionTests.forEachRow(c) { b, h, g, i in
      let scores = TiledAttentionTests.scores(c, q: qr, k: kr, b, h, i, add: add)
      // The running maximum after each key block; the last is the row's.
      var running = [Double](repeating: -.infinity, count: c.keys)
      var top = -Double.infinity
      for start in stride(from: 0, to: c.keys, by: keyBlock) {
        let block = start..<min(c.keys, start + keyBlock)
        top = max(top, scores[block].max()!)
        for j in block { running[j] = top }
      }
      guard top > -.infinity else { return }
      var total: Double = 0
      var sums = [Double](repeating: 0, count: c.valueDepth)
      let panel = Int(attnc_attention_panel_width())
      for first in stride(from: 0, to: c.keys, by: panel) {
        let keys = first..<min(c.keys, first + panel)
        let p = probabilities(keys.map { scores[$0] > -.infinity ? Float(Foundation.exp(scores[$0] - running[$0])) : 0 })
        for (j, pj) in zip(keys, p) where scores[j] > -.infinity {
          total += Foundation.exp(scores[j] - top)
          let weight = Double(pj) * Foundation.exp(running[j] - top)
          for e in 0..<c.valueDepth { sums[e] += weight * Double(vr[((b * c.kvHeads + g) * c.keys + j) * c.valueDepth + e]) }
        }
      }
      for e in 0..<c.valueDepth { y[((b * c.heads + h) * c.queries + i) * c.valueDepth + e] = Float(sums[e] / total) }
    }
    return y
  }

  func check(
    _ c: Case, _ kernels: TiledAttention.Kernels, _ mask: TiledAttention.Mask = .none, keyBlock: Int = 64,
    rowKernel: Bool = true, add: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
  ) throws {
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(
      scale: c.scale, causal: c.causal, softcap: c.softcap, queryBlock: 16, keyBlock: keyBlock, kernels: kernels)
    options.precision = .bfloat16
    options.rowKernel = rowKernel
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options)
    let expected = Self.reference(c, keyBlock: Self.keyBlock(keyBlock, keys: c.keys), add: add)
    let worst = Reference.maxDifference(y.floats, expected)
    #expect(worst < 1e-4, "\(kernels): max abs error \(worst)")
    #expect(!y.floats.contains { $0.isNaN })
  }

  static let cases = [
    Case(),
    Case(causal: true),
    Case(heads: 6, kvHeads: 2, queries: 5, keys: 11, causal: true),
    Case(batch: 1, heads: 2, kvHeads: 1, queries: 29, keys: 101, depth: 64, valueDepth: 64, scale: 0.125, causal: true),
    Case(batch: 1, heads: 4, kvHeads: 2, queries: 19, keys: 33, depth: 33, valueDepth: 40, scale: 0.17),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 14, keys: 40, depth: 24, valueDepth: 7, scale: 1.5, softcap: 4),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 50, keys: 17, depth: 1, valueDepth: 24, scale: 0.9, causal: true),
  ]

  @Test(arguments: TiledAttention.Kernels.allCases, cases)
  func everyInstructionSetMatchesTheRoundedReference(_ kernels: TiledAttention.Kernels, _ c: Case) throws {
    try check(c, kernels, keyBlock: 32)
  }

  /// ViT-S's 257 tokens and an odd 1500 over several key blocks, heads of 64.
  @Test(arguments: [(257, false), (1500, false), (257, true)])
  func oddLengths(_ length: Int, _ causal: Bool) throws {
    let c = Case(batch: 1, heads: 1, kvHeads: 1, queries: length, keys: length, depth: 64, valueDepth: 64, scale: 0.125, causal: causal)
    try check(c, .widest, keyBlock: 512)
  }

  /// The masks the precision tests run on one causal case, each with the term it adds to the
  /// scores: key padding (batch 1's last 15 keys) and a per-head bias.
  static func maskedCases() -> [(Case, TiledAttention.Mask, (Int, Int, Int, Int) -> Float)] {
    let c = Case(batch: 2, heads: 2, kvHeads: 2, queries: 23, keys: 75, depth: 20, valueDepth: 18, scale: 0.3, causal: true)
    let padding = (0..<150).map { $0 % 75 < 60 || $0 < 75 ? Int64(1) : 0 }
    let bias = SeededValues.floats(2 * 23 * 75, seed: 9, amplitude: 2)
    return [
      (c, .keyPadding(.int(padding, [2, 75]), fill: -.infinity), { b, _, _, j in padding[b * 75 + j] == 0 ? -.infinity : 0 }),
      (c, .bias(.float(bias, [1, 2, 23, 75])), { _, h, i, j in bias[(h * 23 + i) * 75 + j] }),
    ]
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func keyPaddingAndBias(_ kernels: TiledAttention.Kernels) throws {
    for (c, mask, add) in Self.maskedCases() { try check(c, kernels, mask, keyBlock: 32, add: add) }
  }

  /// A decoding step's few rows: on the tiles they are rounded like any other; the row kernel
  /// (the default for them) stays float32 in every precision, as exact as the float32 kernel.
  @Test func decodeRows() throws {
    let c = Case(batch: 1, heads: 4, kvHeads: 2, queries: 3, keys: 130, depth: 32, valueDepth: 32, scale: 0.18, causal: true)
    try check(c, .widest, keyBlock: 64, rowKernel: false)
  }

  @Test(arguments: [TiledAttention.Precision.bfloat16, .int8])
  func decodeRowsStayFloat32(_ precision: TiledAttention.Precision) throws {
    let c = Case(batch: 1, heads: 4, kvHeads: 2, queries: 3, keys: 130, depth: 32, valueDepth: 32, scale: 0.18, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(scale: c.scale, causal: true)
    options.precision = precision
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: options)
    let worst = Reference.maxDifference(y.floats, TiledAttentionTests.reference(c) { _, _, _, _ in 0 })
    #expect(worst < 1e-5, "row kernel: max abs error \(worst)")
  }

  /// The native products (AVX512-BF16; for int8 AVX512-VNNI) and the fallback (the rounded
  /// float32 loops; plain C summing the same integers) agree but for the order of the products.
  @Test(arguments: [TiledAttention.Precision.bfloat16, .int8])
  func nativeProductsAgreeWithTheFallback(_ precision: TiledAttention.Precision) throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 40, keys: 300, depth: 64, valueDepth: 48, scale: 0.125)
    let (q, k, v) = TiledAttentionTests.operands(c)
    func run(_ kernels: TiledAttention.Kernels) throws -> [Float] {
      var options = TiledAttention.Options(scale: c.scale)
      (options.kernels, options.precision) = (kernels, precision)
      return try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: options).floats.owned
    }
    let worst = Reference.maxDifference(try run(.widest), try run(.portable))
    #expect(worst < 1e-5, "\(precision) native against the fallback: \(worst)")
  }

  /// Per-head precision: the heads `float32Heads` names run float32 (the float32 reference), the
  /// others bfloat16 (the rounded reference), GQA heads of one key/value head mixed.
  @Test(arguments: TiledAttention.Kernels.allCases)
  func float32HeadsStayFloat32(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 4, kvHeads: 2, queries: 21, keys: 70, depth: 24, valueDepth: 24, scale: 0.3, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(scale: c.scale, causal: true, queryBlock: 16, keyBlock: 32, kernels: kernels)
    (options.precision, options.float32Heads) = (.bfloat16, 0b0101)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: options).floats
    let rounded = Self.reference(c, keyBlock: Self.keyBlock(32, keys: c.keys)) { _, _, _, _ in 0 }
    let exact = TiledAttentionTests.reference(c) { _, _, _, _ in 0 }
    let size = c.queries * c.valueDepth
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let rows = ((b * c.heads + h) * size)..<((b * c.heads + h + 1) * size)
        let expected = h % 2 == 0 ? exact : rounded
        let worst = Reference.maxDifference(Array(y[rows]), Array(expected[rows]))
        #expect(worst < (h % 2 == 0 ? 1e-5 : 1e-4), "batch \(b) head \(h): \(worst)")
      }
    }
    #expect(options.precision(ofHead: 0) == .float32 && options.precision(ofHead: 1) == .bfloat16)
  }

  /// `f32heads` is a set of heads in the text form and reaches the kernel.
  @Test func float32HeadsIsAVariantParameter() throws {
    let (definition, parameters) = try AttentionVariants.parse("softmax:prec=bf16,f32heads=1+3")
    #expect(parameters["f32heads"] == 10)
    #expect(definition.text(parameters.values) == "softmax:f32heads=1+3,prec=bf16")
    #expect(throws: AttncError.self) { try AttentionVariants.parse("softmax:prec=bf16,f32heads=1+x") }
    var options = TiledAttention.Options(scale: 1)
    options.setPrecision(parameters)
    #expect(options.float32Heads == 10 && options.precision == .bfloat16)
  }

  /// The variant parameter reaches the kernel: `softmax:prec=bf16` differs from `softmax` by the
  /// rounding, and prints as it parses.
  @Test func precisionIsAVariantParameter() throws {
    let (definition, parameters) = try AttentionVariants.parse("softmax:prec=bf16")
    #expect(definition.text(parameters.values) == "softmax:prec=bf16")
    #expect(!definition.isExact(parameters))
    let exact = try AttentionVariants.parse("softmax:prec=f32")
    #expect(exact.1.values.isEmpty && exact.0.isExact(exact.1))
    #expect(throws: AttncError.self) { try AttentionVariants.parse("softmax:prec=fp8") }
    let difference = try TiledAttentionTests.difference(["prec": 1])
    #expect(difference > 1e-4 && difference < 0.05, "bf16 against f32: \(difference)")
  }
}
