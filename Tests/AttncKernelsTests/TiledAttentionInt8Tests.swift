@testable import AttncKernels
import AttncTensor
import AttncTestSupport
import CAttnc
import Foundation
import Testing

/// The fused kernel in int8 and int8pv precision (the latter's P·V reference in
/// `TiledAttentionInt8PVReference`) against a Double reference of its own math: K smoothed by
/// its mean over the keys (not under a softcap), Q and K quantized to int8 per block (16 query
/// rows of each query block, 32 keys), the scores the exact products of the dequantized
/// operands, then the bfloat16 kernel's softmax and P·V (`TiledAttentionBFloat16Tests`). Every
/// instruction set the machine has is checked: AVX512-VNNI where present, plain C otherwise and
/// under the AVX2 and portable limits (`TiledAttentionBFloat16Tests` also compares the two
/// directly, and checks that decoding rows stay float32).
@Suite struct TiledAttentionInt8Tests {
  typealias Case = TiledAttentionTests.Case

  /// Rows of one quantization block, dequantized: `s · round(x · 127 / max|x|)` with
  /// `s = max|x| / 127` over the block's finite rows; a row holding NaN or ±inf is NaN.
  static func dequantized(_ rows: [[Float]]) -> [[Float]] {
    let live = rows.map { $0.allSatisfy(\.isFinite) }
    var top: Float = 0
    for (r, row) in rows.enumerated() where live[r] { for x in row { top = max(top, abs(x)) } }
    let inverse: Float = top > 0 ? 127 / top : 0, scale = top / 127
    return rows.indices.map { r in
      rows[r].map { x in live[r] ? scale * min(127, max(-127, (x * inverse).rounded(.toNearestOrEven))) : .nan }
    }
  }

  /// Q and K as the int8 products see them (dequantized, K smoothed unless `c.softcap > 0`), for
  /// query blocks of `queryBlock` rows.
  static func scoring(_ c: Case, queryBlock: Int) -> (q: [Float], k: [Float]) {
    let (q, k, _) = TiledAttentionTests.operands(c)
    let (qf, kf) = (q.floats.owned, k.floats.owned)
    let d = c.depth
    func row(_ x: [Float], _ index: Int) -> [Float] { Array(x[(index * d)..<((index + 1) * d)]) }
    var kq = [Float](), qq = [Float]()
    for head in 0..<(c.batch * c.kvHeads) {
      var keys = (0..<c.keys).map { row(kf, head * c.keys + $0) }
      if c.softcap <= 0 {
        for t in 0..<d {
          let finite = keys.map { $0[t] }.filter(\.isFinite)
          let mean = finite.isEmpty ? 0 : Float(finite.reduce(0.0) { $0 + Double($1) } / Double(finite.count))
          for j in keys.indices { keys[j][t] -= mean }
        }
      }
      for start in stride(from: 0, to: c.keys, by: Int(attnc_attention_int8_panel_width())) {
        kq += dequantized(Array(keys[start..<min(c.keys, start + Int(attnc_attention_int8_panel_width()))])).flatMap { $0 }
      }
    }
    let block = max(1, min(queryBlock, c.queries)), rowsPerScale = Int(attnc_attention_int8_query_rows())
    for head in 0..<(c.batch * c.heads) {
      for blockStart in stride(from: 0, to: c.queries, by: block) {
        let blockEnd = min(c.queries, blockStart + block)
        for start in stride(from: blockStart, to: blockEnd, by: rowsPerScale) {
          let rows = (start..<min(blockEnd, start + rowsPerScale)).map { row(qf, head * c.queries + $0) }
          qq += dequantized(rows).flatMap { $0 }
        }
      }
    }
    return (qq, kq)
  }

  static func reference(_ c: Case, queryBlock: Int, keyBlock: Int, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    TiledAttentionBFloat16Tests.reference(
      c, keyBlock: TiledAttentionBFloat16Tests.keyBlock(keyBlock, keys: c.keys), scoring: scoring(c, queryBlock: queryBlock), add: add)
  }

  /// The reference of `precision` (int8 or int8pv) and, per output row, how far the kernel may
  /// be from it (int8pv: one probability's rounding flip, `TiledAttentionInt8PVReference.tolerances`).
  static func expected(
    _ c: Case, _ precision: TiledAttention.Precision, queryBlock: Int, keyBlock: Int, add: (Int, Int, Int, Int) -> Float
  ) -> (values: [Float], tolerances: [Float]) {
    guard precision == .int8pv else {
      return (reference(c, queryBlock: queryBlock, keyBlock: keyBlock, add: add), [Float](repeating: 1e-4, count: c.batch * c.heads * c.queries))
    }
    typealias PV = TiledAttentionInt8PVReference
    return (PV.reference(c, queryBlock: queryBlock, keyBlock: keyBlock, add: add), PV.tolerances(c, queryBlock: queryBlock, add: add))
  }

  /// Both int8 precisions against their references: int8 to 1e-4, int8pv within its per-row
  /// tolerance, and at most 1% of its rows (and one) using the rounding-flip allowance.
  func check(
    _ c: Case, _ kernels: TiledAttention.Kernels, _ mask: TiledAttention.Mask = .none, queryBlock: Int = 16, keyBlock: Int = 64,
    rowKernel: Bool = false, add: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
  ) throws {
    let (q, k, v) = TiledAttentionTests.operands(c)
    for precision in [TiledAttention.Precision.int8, .int8pv] {
      var options = TiledAttention.Options(
        scale: c.scale, causal: c.causal, softcap: c.softcap, queryBlock: queryBlock, keyBlock: keyBlock, kernels: kernels)
      options.precision = precision
      options.rowKernel = rowKernel
      let actual = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options).floats.owned
      let (expected, tolerances) = Self.expected(c, precision, queryBlock: queryBlock, keyBlock: keyBlock, add: add)
      let over = actual.indices.filter { !(abs(actual[$0] - expected[$0]) < tolerances[$0 / c.valueDepth]) }
      #expect(over.isEmpty, "\(precision.name) \(kernels): \(over.count) outputs off, first \(over.first.map { "\(actual[$0]) vs \(expected[$0])" } ?? "")")
      let flipped = Set(actual.indices.filter { abs(actual[$0] - expected[$0]) >= 1e-4 }.map { $0 / c.valueDepth })
      #expect(flipped.count <= max(1, tolerances.count / 100), "\(precision.name) \(kernels): \(flipped.count) rows over 1e-4")
      #expect(!actual.contains { $0.isNaN })
    }
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

  /// Smoothing is what keeps int8 close on keys with a large common offset (a channel-wise
  /// outlier, as SageAttention found in real K): with it the error stays near the plain keys'.
  @Test func smoothingRemovesACommonKeyOffset() throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 64, keys: 200, depth: 32, valueDepth: 32, scale: 0.18)
    let (q, k, v) = TiledAttentionTests.operands(c)
    let shifted = Tensor.float(k.floats.enumerated().map { index, x in index % c.depth == 3 ? x + 40 : x }, k.shape)
    func error(_ keys: Tensor, softcap: Float) throws -> Double {
      var options = TiledAttention.Options(scale: c.scale, softcap: softcap)
      options.precision = .int8
      let y = try TiledAttention.run(q: q, k: keys, v: v, mask: .none, options: options)
      options.precision = .float32
      let exact = try TiledAttention.run(q: q, k: keys, v: v, mask: .none, options: options)
      let (a, b) = (y.floats.owned, exact.floats.owned)
      let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
      return (difference / b.reduce(0.0) { $0 + Double($1) * Double($1) }).squareRoot()
    }
    let plain = try error(k, softcap: 0), smoothed = try error(shifted, softcap: 0)
    // A softcap of 1000 changes nothing measurable but turns smoothing off.
    let unsmoothed = try error(shifted, softcap: 1000)
    #expect(plain < 0.02 && smoothed < 2 * plain + 1e-3, "plain \(plain), offset keys smoothed \(smoothed)")
    #expect(unsmoothed > 2 * smoothed, "offset keys without smoothing \(unsmoothed), smoothed \(smoothed)")
  }

  /// Per-head precision: head 0 float32 (`float32Heads`), head 2 bfloat16 (`bfloat16Heads`),
  /// heads 1 and 3 int8 (or int8pv), GQA heads of one key/value head mixed; each against its own
  /// reference.
  @Test(arguments: TiledAttention.Kernels.allCases, [TiledAttention.Precision.int8, .int8pv])
  func headsMixPrecisions(_ kernels: TiledAttention.Kernels, _ precision: TiledAttention.Precision) throws {
    let c = Case(batch: 2, heads: 4, kvHeads: 2, queries: 21, keys: 70, depth: 24, valueDepth: 24, scale: 0.3, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    var options = TiledAttention.Options(scale: c.scale, causal: true, queryBlock: 16, keyBlock: 32, kernels: kernels)
    (options.precision, options.float32Heads, options.bfloat16Heads) = (precision, 0b0001, 0b0100)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: options).floats
    let none: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
    let quantized = Self.expected(c, precision, queryBlock: 16, keyBlock: 32, add: none)
    let expected = [
      TiledAttentionTests.reference(c, add: none), quantized.values,
      TiledAttentionBFloat16Tests.reference(c, keyBlock: TiledAttentionBFloat16Tests.keyBlock(32, keys: c.keys), add: none),
    ]
    let size = c.queries * c.valueDepth
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let kind = h == 0 ? 0 : h == 2 ? 2 : 1
        for index in ((b * c.heads + h) * size)..<((b * c.heads + h + 1) * size) {
          let limit = kind == 0 ? 1e-5 : kind == 2 ? 1e-4 : quantized.tolerances[index / c.valueDepth]
          #expect(abs(y[index] - expected[kind][index]) < limit, "batch \(b) head \(h) output \(index)")
        }
      }
    }
    #expect((0..<4).map(options.precision(ofHead:)) == [.float32, precision, .bfloat16, precision])
  }

  /// The AVX-512 quantization loops write the same bytes as the plain C ones: odd depths, a
  /// partial last panel and query block, rows holding NaN or ±inf, smoothing on and off.
  @Test(arguments: [1, 7, 33, 64])
  func packingIsTheSameOnEveryInstructionSet(_ depth: Int) {
    let (keys, rows) = (45, 21)
    var k = SeededValues.floats(keys * depth, seed: UInt64(depth), amplitude: 3).map { $0 + 5 }
    var q = SeededValues.floats(rows * depth, seed: UInt64(depth) + 100, amplitude: 2)
    k[3 * depth] = .nan
    k[40 * depth + depth - 1] = .infinity
    q[17 * depth] = -.infinity
    func keysPacked(smooth: Int32, widest: Int32) -> [UInt32] {
      var packed = [Float](repeating: 0, count: attnc_attention_int8_packed_floats(keys, depth))
      attnc_attention_int8_pack_keys(k, keys, depth, smooth, widest, &packed)
      return packed.map(\.bitPattern)
    }
    func queriesQuantized(widest: Int32) -> [UInt32] {
      var out = [Float](repeating: 0, count: rows * attnc_attention_int8_query_units(depth))
      attnc_attention_int8_quantize_queries(q, rows, depth, widest, &out)
      return out.map(\.bitPattern)
    }
    for smooth: Int32 in [0, 1] { #expect(keysPacked(smooth: smooth, widest: 1) == keysPacked(smooth: smooth, widest: 0)) }
    #expect(queriesQuantized(widest: 1) == queriesQuantized(widest: 0))
  }

  /// int8pv's probability bytes and panel factors are the same on AVX-512 (sixteen panels at a
  /// time, then panel by panel) as in plain C: widths of 16 panels and more with a rest, a panel
  /// of zeros (factor 0), NaN, values outside [0, 1], fewer rows than the strip.
  @Test(arguments: [(12, 21, 21), (5, 21, 16), (12, 40, 37)])
  func probabilityBytesAreTheSameOnEveryInstructionSet(rows: Int, stridePanels: Int, panels: Int) {
    let (stride, width) = (32 * stridePanels, 32 * panels)
    var strip = SeededValues.floats(12 * stride, seed: UInt64(panels), amplitude: 1).map { abs($0) * $0 + 0.3 }
    for j in (5 * 32)..<(6 * 32) { strip[j] = 0 }  // row 0, panel 5: all zeros
    strip[stride + 7] = .nan
    strip[2 * stride + 40] = -0.5
    strip[3 * stride + 18 * 32 + 3] = 1.75
    func quantized(_ native: Bool) -> [UInt8] {
      var out = [UInt8](repeating: 0xAB, count: 12 * stride + 12 * stridePanels * 4)
      if native {
        attnc_attention_int8_quantize_probabilities_native(strip, Int32(rows), width, stride, &out)
      } else {
        attnc_attention_int8_quantize_probabilities_portable(strip, Int32(rows), width, stride, &out)
      }
      return out
    }
    #expect(quantized(true) == quantized(false), "rows \(rows), \(panels) panels")
  }

  /// The variant parameter reaches the kernel and prints as it parses; int8 is not exact.
  @Test func precisionIsAVariantParameter() throws {
    let (definition, parameters) = try AttentionVariants.parse("softmax:prec=int8,f32heads=2")
    #expect(definition.text(parameters.values) == "softmax:f32heads=2,prec=int8")
    // A set of one head reads back as that head: the text round-trips.
    let mixed = try AttentionVariants.parse("softmax:bf16heads=0+5,f32heads=3,prec=int8")
    #expect(mixed.1["bf16heads"] == 33 && mixed.1["f32heads"] == 8)
    #expect(try AttentionVariants.parse(mixed.0.text(mixed.1.values)).1 == mixed.1)
    #expect(!definition.isExact(parameters))
    var options = TiledAttention.Options(scale: 1)
    options.setPrecision(parameters)
    #expect(options.precision == .int8 && options.float32Heads == 4)
    let difference = try TiledAttentionTests.difference(["prec": 2])
    #expect(difference > 1e-4 && difference < 0.05, "int8 against f32: \(difference)")
    // int8pv: P·V in 8 bits too moves the outputs again, within a few percent.
    let (eight, both) = try AttentionVariants.parse("softmax:prec=int8pv,bf16heads=1")
    #expect(eight.text(both.values) == "softmax:bf16heads=1,prec=int8pv" && !eight.isExact(both))
    let further = try TiledAttentionTests.difference(["prec": 3], from: ["prec": 2])
    #expect(further > 1e-5 && further < 0.05, "int8pv against int8: \(further)")
  }
}
