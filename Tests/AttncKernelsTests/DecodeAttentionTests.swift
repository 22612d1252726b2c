@testable import AttncKernels
import AttncTestSupport
import Foundation
import Testing

// MARK: - Decoding steps: the row kernel and the cache append

/// A decoding step's few query rows over a longer key sequence (the row kernel, K read in place)
/// against the Double reference and against the tiled kernel, on every instruction set; and
/// `runAppending`, which also writes `Concat(past, new)` as it attends.
extension TiledAttentionTests {
  /// 1–4 query rows on key counts around the row kernel's 64-key chunks, bottom-right causal
  /// (query `i` sees keys `j ≤ i + L − S`), GQA and MQA, odd head sizes.
  static let decodeCases: [Case] = [
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 1, keys: 1, depth: 16, valueDepth: 16, scale: 0.25, causal: true),
    Case(batch: 2, heads: 3, kvHeads: 3, queries: 1, keys: 130, depth: 64, valueDepth: 64, scale: 0.125, causal: true),
    Case(batch: 1, heads: 4, kvHeads: 2, queries: 1, keys: 200, depth: 32, valueDepth: 40, scale: 0.18, causal: true),
    Case(batch: 1, heads: 6, kvHeads: 1, queries: 3, keys: 67, depth: 24, valueDepth: 16, scale: 0.2, causal: true),
    Case(batch: 2, heads: 2, kvHeads: 2, queries: 4, keys: 129, depth: 33, valueDepth: 7, scale: 0.17),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 2, keys: 64, depth: 5, valueDepth: 9, scale: 0.4, causal: true, softcap: 2),
  ]

  func decodeOptions(_ c: Case, _ kernels: TiledAttention.Kernels, rows: Bool) -> TiledAttention.Options {
    var options = TiledAttention.Options(scale: c.scale, causal: c.causal, softcap: c.softcap, keyBlock: 32, kernels: kernels)
    options.rowKernel = rows
    return options
  }

  @Test(arguments: TiledAttention.Kernels.allCases, decodeCases)
  func decodingRowsMatchTheReferenceAndTheTiles(_ kernels: TiledAttention.Kernels, _ c: Case) throws {
    let (q, k, v) = Self.operands(c)
    let rows = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: decodeOptions(c, kernels, rows: true))
    let tiles = try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: decodeOptions(c, kernels, rows: false))
    let expected = Self.reference(c) { _, _, _, _ in 0 }
    #expect(Reference.maxDifference(rows.floats, expected) < 2e-5, "\(kernels): rows against the reference")
    #expect(Reference.maxDifference(rows.floats, tiles.floats.owned) < 2e-5, "\(kernels): rows against the tiles")
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func decodingRowsHonourPaddingBiasAndWeights(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 4, kvHeads: 2, queries: 2, keys: 90, depth: 32, valueDepth: 32, scale: 0.18, causal: true)
    let (q, k, v) = Self.operands(c)
    // Batch 1 pads every key but its last: its first row sees only padding (−inf: zeros).
    let padding = (0..<(2 * 90)).map { $0 >= 90 && $0 % 90 < 89 ? Int64(0) : 1 }
    let bias = Self.values(2 * 4 * 2 * 90, seed: 51)
    var weights = Self.positiveWeights(2 * 90, seed: 52)
    for j in 0..<20 { weights[j] = 0 }
    let masks: [(TiledAttention.Mask, (Int, Int, Int, Int) -> Float)] = [
      (.keyPadding(.int(padding, [2, 90]), fill: -.infinity), { b, _, _, j in padding[b * 90 + j] == 0 ? -.infinity : 0 }),
      (.bias(.float(bias, [2, 4, 2, 90])), { b, h, i, j in bias[((b * 4 + h) * 2 + i) * 90 + j] }),
      (.keyWeights(.float(weights, [2, 90])), { b, _, _, j in Foundation.log(weights[b * 90 + j]) }),
    ]
    for (mask, add) in masks {
      let y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: decodeOptions(c, kernels, rows: true))
      let worst = Reference.maxDifference(y.floats, Self.reference(c, add: add))
      #expect(worst < 2e-5, "\(kernels) \(mask): max abs error \(worst)")
      #expect(!y.floats.contains { $0.isNaN })
    }
  }

  /// A NaN score makes its row NaN, or zeros under SDPA's guard; other rows are untouched.
  @Test(arguments: TiledAttention.Kernels.allCases)
  func decodingRowsWithANaNScore(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 1, heads: 1, kvHeads: 1, queries: 3, keys: 40, depth: 8, valueDepth: 8, scale: 0.3, causal: true)
    let (q, k, v) = Self.operands(c)
    var keys = k.floats.owned
    keys[38 * 8] = .nan  // key 38: seen by rows 1 and 2 (row i sees j ≤ i + 37)
    for guarded in [false, true] {
      var options = decodeOptions(c, kernels, rows: true)
      options.zeroNaNRows = guarded
      let y = try TiledAttention.run(q: q, k: .float(keys, k.shape), v: v, mask: .none, options: options)
      let first = y.floats[0..<8]
      #expect(!first.contains { $0.isNaN })
      for i in 1..<3 {
        let row = y.floats[(i * 8)..<((i + 1) * 8)]
        let expected = guarded ? row.allSatisfy { $0 == 0 } : row.allSatisfy { $0.isNaN }
        #expect(expected, "row \(i), guarded \(guarded)")
      }
    }
  }

  /// `runAppending` on `past ++ new` gives the attention on the concatenation and the
  /// concatenation itself (the present keys and values), for decoding steps and longer ones.
  @Test(arguments: TiledAttention.Kernels.allCases, [(1, 130, 1), (2, 64, 2), (1, 0, 3), (7, 20, 7)])
  func appendingToTheCacheWritesThePresent(_ kernels: TiledAttention.Kernels, _ sizes: (queries: Int, past: Int, new: Int)) throws {
    let c = Case(
      batch: 2, heads: 4, kvHeads: 2, queries: sizes.queries, keys: sizes.past + sizes.new, depth: 24, valueDepth: 20,
      scale: 0.2, causal: true)
    let (q, k, v) = Self.operands(c)
    func split(_ x: Tensor, _ range: Range<Int>) -> Tensor {
      let (heads, length, width) = (x.shape[1], x.shape[2], x.shape[3])
      var values: [Float] = []
      for bh in 0..<(x.shape[0] * heads) {
        values += x.floats[(bh * length + range.lowerBound) * width..<(bh * length + range.upperBound) * width]
      }
      return .float(values, [x.shape[0], heads, range.count, width])
    }
    let past = (keys: split(k, 0..<sizes.past), values: split(v, 0..<sizes.past))
    let new = (keys: split(k, sizes.past..<c.keys), values: split(v, sizes.past..<c.keys))
    let padding = (0..<(2 * c.keys)).map { $0 == c.keys ? Int64(0) : 1 }
    let results = try TiledAttention.runAppending(
      q: q, past: past, new: new, mask: .keyPadding(.int(padding, [2, c.keys]), fill: -.infinity),
      options: decodeOptions(c, kernels, rows: true))
    #expect(results[1].shape == k.shape && results[1].floats.owned == k.floats.owned, "present keys")
    #expect(results[2].shape == v.shape && results[2].floats.owned == v.floats.owned, "present values")
    let expected = Self.reference(c) { b, _, _, j in padding[b * c.keys + j] == 0 ? -.infinity : 0 }
    #expect(Reference.maxDifference(results[0].floats, expected) < 2e-5, "\(kernels)")
  }
}
