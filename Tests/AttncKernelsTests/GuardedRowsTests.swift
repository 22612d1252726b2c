@testable import AttncKernels
import Foundation
import Testing

/// The exact kernel on rows whose keys are all masked with −inf, against a plain Float
/// implementation of what the SDPA exports compute: `Softmax` (NaN on such a row), then
/// `Where(IsNaN(p), 0, p)`, then `p·V`.
@Suite struct GuardedRowsTests {
  typealias Case = TiledAttentionTests.Case

  /// The guarded reference, elementwise in Float as ONNX Runtime runs the exported nodes.
  static func guarded(_ c: Case, bias: [Float], queries: [Float]? = nil) -> [Float] {
    let (given, k, v) = TiledAttentionTests.operands(c)
    let q = Tensor.float(queries ?? given.floats.owned, given.shape)
    var y = [Float](repeating: .nan, count: c.batch * c.heads * c.queries * c.valueDepth)
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let g = h / (c.heads / c.kvHeads)
        for i in 0..<c.queries {
          var scores = [Float](repeating: 0, count: c.keys)
          for j in 0..<c.keys {
            var dot: Float = 0
            for t in 0..<c.depth {
              dot += q.floats[((b * c.heads + h) * c.queries + i) * c.depth + t] * k.floats[((b * c.kvHeads + g) * c.keys + j) * c.depth + t]
            }
            scores[j] = dot * c.scale + bias[((b * c.heads + h) * c.queries + i) * c.keys + j]
          }
          let top = scores.max()!
          let exps = scores.map { Foundation.exp($0 - top) }  // −inf − (−inf) = NaN on a fully masked row
          let total = exps.reduce(0, +)
          let p = exps.map { $0 / total }.map { $0.isNaN ? 0 : $0 }  // the guard
          for e in 0..<c.valueDepth {
            var sum: Float = 0
            for j in 0..<c.keys { sum += p[j] * v.floats[((b * c.kvHeads + g) * c.keys + j) * c.valueDepth + e] }
            y[((b * c.heads + h) * c.queries + i) * c.valueDepth + e] = sum
          }
        }
      }
    }
    return y
  }

  /// A full `[B, H, S, L]` bias: 0 or −inf, with whole rows masked in both batches.
  static func bias(_ c: Case) -> [Float] {
    (0..<(c.batch * c.heads * c.queries * c.keys)).map { index in
      let j = index % c.keys, i = (index / c.keys) % c.queries, b = index / (c.heads * c.queries * c.keys)
      if (b == 0 && i % 3 == 1) || (b == 1 && i < 4) { return -.infinity }  // fully masked rows
      return (i + j + b) % 4 == 0 ? -.infinity : 0
    }
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func fullyMaskedRowsGiveTheGuardsZeros(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 4, kvHeads: 2, queries: 13, keys: 45, depth: 16, valueDepth: 8, scale: 0.25)
    let (q, k, v) = TiledAttentionTests.operands(c)
    let bias = Self.bias(c)
    let options = TiledAttention.Options(scale: c.scale, queryBlock: 5, keyBlock: 16, kernels: kernels)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .bias(.float(bias, [c.batch, c.heads, c.queries, c.keys])), options: options)
    let expected = Self.guarded(c, bias: bias)
    #expect(!expected.contains { $0.isNaN })
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? .nan
    #expect(worst < 1e-5, "\(kernels): max abs error \(worst)")
    // The masked rows are exactly zero (not merely small, not NaN).
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        for i in 0..<c.queries where (b == 0 && i % 3 == 1) || (b == 1 && i < 4) {
          let start = ((b * c.heads + h) * c.queries + i) * c.valueDepth
          #expect(y.floats[start..<(start + c.valueDepth)].allSatisfy { $0 == 0 }, "batch \(b) head \(h) query \(i)")
        }
      }
    }
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func causalPaddingThatHidesEveryKeyGivesZeros(_ kernels: TiledAttention.Kernels) throws {
    // Left padding of 3 with a causal mask (a decoder's padded batch): batch 1's first three
    // queries see no key at all.
    let c = Case(batch: 2, heads: 2, kvHeads: 2, queries: 8, keys: 8, depth: 8, valueDepth: 8, scale: 0.35, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    let padding: [Int64] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    let bias = (0..<(2 * 2 * 8 * 8)).map { index -> Float in
      let j = index % 8, i = (index / 8) % 8, b = index / 128
      return j > i || padding[b * 8 + j] == 0 ? -.infinity : 0
    }
    let options = TiledAttention.Options(scale: c.scale, causal: true, kernels: kernels)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .keyPadding(.int(padding, [2, 8]), fill: -.infinity), options: options)
    let expected = Self.guarded(Case(batch: 2, heads: 2, kvHeads: 2, queries: 8, keys: 8, depth: 8, valueDepth: 8, scale: 0.35), bias: bias)
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? .nan
    #expect(worst < 1e-5, "\(kernels): max abs error \(worst)")
    #expect(y.floats[(2 * 8 * 8)..<(2 * 8 * 8 + 3 * 8)].allSatisfy { $0 == 0 })
  }

  /// The kernel on causal attention with key padding `padding` ([batch, keys]) filled with
  /// `fill` (also past the bottom-right diagonal), checked against a plain guarded softmax whose
  /// bias adds `fill` past the diagonal and on padded keys; returns the kernel's output.
  static func causalPadded(_ c: Case, padding: [Int64], fill: Float) throws -> Tensor {
    let (q, k, v) = TiledAttentionTests.operands(c)
    let offset = c.keys - c.queries
    let bias = (0..<(c.batch * c.heads * c.queries * c.keys)).map { index -> Float in
      let j = index % c.keys, i = (index / c.keys) % c.queries, b = index / (c.heads * c.queries * c.keys)
      return j > i + offset || padding[b * c.keys + j] == 0 ? fill : 0
    }
    var options = TiledAttention.Options(scale: c.scale, causal: true)
    options.causalFill = fill
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .keyPadding(.int(padding, [c.batch, c.keys]), fill: fill), options: options)
    var plain = c
    plain.causal = false
    let expected = Self.guarded(plain, bias: bias)
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? .nan
    #expect(worst < 1e-5, "fill \(fill): max abs error \(worst)")
    return y
  }

  /// Eager exports add one finite value (`finfo.min`, or −1e4) past the diagonal and to padded
  /// keys: a row that sees only padded keys is then the softmax over all keys of `score + fill`
  /// (in float32, `score + finfo.min` rounds to `finfo.min`: a plain average of V).
  @Test(arguments: [-Float.greatestFiniteMagnitude, -1e4])
  func finiteFillRowsAreTheSoftmaxOverEveryKey(_ fill: Float) throws {
    let c = Case(batch: 2, heads: 2, kvHeads: 1, queries: 8, keys: 8, depth: 8, valueDepth: 8, scale: 0.35, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    let padding: [Int64] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    let y = try Self.causalPadded(c, padding: padding, fill: fill)
    var options = TiledAttention.Options(scale: c.scale, causal: true)
    // The padded rows are not zeros (that would be the −inf / NaN-guard answer).
    #expect(y.floats[(2 * 8 * 8)..<(2 * 8 * 8 + 3 * 8)].contains { $0 != 0 })
    // With −inf past the diagonal the same rows are zeros.
    options.causalFill = -.infinity
    let guarded = try TiledAttention.run(q: q, k: k, v: v, mask: .keyPadding(.int(padding, [2, 8]), fill: -.infinity), options: options)
    #expect(guarded.floats[(2 * 8 * 8)..<(2 * 8 * 8 + 3 * 8)].allSatisfy { $0 == 0 })
  }

  /// A sliding window kept as the model's additive bias (`[B, 1, S, L]`: `fill` past the
  /// diagonal, more than 2 keys back and on padded keys; Mistral's and Gemma 2's eager masks) with
  /// the causal cut: rows whose visible keys are all masked are the softmax of `score + bias` over
  /// every key, as without the cut; the others are exact under the cut.
  @Test(arguments: [-Float.greatestFiniteMagnitude, -1e4])
  func aCausalBiasWithAFiniteFillKeepsTheModelsMaskedRows(_ fill: Float) throws {
    let c = Case(batch: 2, heads: 2, kvHeads: 1, queries: 8, keys: 8, depth: 8, valueDepth: 8, scale: 0.35, causal: true)
    let (q, k, v) = TiledAttentionTests.operands(c)
    let padding: [Int64] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]
    let mask = (0..<(2 * 8 * 8)).map { (index: Int) -> Float in
      let (j, i, b) = (index % 8, (index / 8) % 8, index / 64)
      let hidden: Bool = j > i || j < i - 2 || padding[b * 8 + j] == 0
      return hidden ? fill : 0
    }
    var options = TiledAttention.Options(scale: c.scale, causal: true)
    options.causalFill = fill
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .bias(.float(mask, [2, 1, 8, 8])), options: options)
    // [B, H, S, L]: batch b's rows for each of the two heads.
    let perHead: [Float] = (0..<2).flatMap { (b: Int) -> [Float] in
      let rows = Array(mask[(b * 64)..<(b * 64 + 64)])
      return rows + rows
    }
    var plain = c
    plain.causal = false
    let expected = Self.guarded(plain, bias: perHead)
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? .nan
    #expect(worst < 1e-5, "fill \(fill): max abs error \(worst)")
    // Batch 1's first three queries see only padding: not the average of their visible keys.
    #expect(y.floats[(2 * 8 * 8)..<(2 * 8 * 8 + 3 * 8)].contains { $0 != 0 })
  }

  /// A KV-cache step: 3 queries on 8 keys (bottom-right diagonal, query i sees j ≤ i + 5), batch 1
  /// left-padded by 6, so its first query sees only padded keys.
  @Test(arguments: [-Float.greatestFiniteMagnitude, -.infinity])
  func cachedKeysShiftTheDiagonal(_ fill: Float) throws {
    let c = Case(batch: 2, heads: 2, kvHeads: 2, queries: 3, keys: 8, depth: 8, valueDepth: 4, scale: 0.35, causal: true)
    let padding: [Int64] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    let y = try Self.causalPadded(c, padding: padding, fill: fill)
    let firstRow = Array(y.floats[(2 * 3 * 4)..<(2 * 3 * 4 + 4)])  // batch 1, head 0, query 0
    #expect(fill == -.infinity ? firstRow.allSatisfy { $0 == 0 } : firstRow.contains { $0 != 0 })
  }

  /// Under the guard a NaN score zeroes its row (the whole softmax row is NaN, then 0), where a
  /// plain softmax gives NaN (`TiledAttentionTests.aNaNKeyPoisonsTheRowsThatSeeIt`). (A NaN
  /// score that the causal cut hides is never computed: it leaves its row alone, where the
  /// exported `score + (−inf)` would be NaN too.)
  @Test(arguments: TiledAttention.Kernels.allCases)
  func aNaNScoreUnderTheGuardGivesZeros(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 1, queries: 9, keys: 40, depth: 32, valueDepth: 32, scale: 0.18)
    let (q, k, v) = TiledAttentionTests.operands(c)
    var queries = q.floats.owned
    queries[3 * 32 + 5] = .nan  // head 0, query 3
    queries[(9 + 7) * 32] = .nan  // head 1, query 7
    var options = TiledAttention.Options(scale: c.scale, keyBlock: 32, kernels: kernels)
    options.zeroNaNRows = true
    let y = try TiledAttention.run(q: .float(queries, q.shape), k: k, v: v, mask: .none, options: options)
    let expected = Self.guarded(c, bias: [Float](repeating: 0, count: 2 * 9 * 40), queries: queries)
    #expect(!expected.contains { $0.isNaN })
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? .nan
    #expect(worst < 1e-5, "\(kernels): max abs error \(worst)")
    for row in 0..<18 {
      let values = y.floats[(row * 32)..<((row + 1) * 32)]
      #expect(values.allSatisfy { $0 == 0 } == (row == 3 || row == 16), "row \(row)")
    }
    options.zeroNaNRows = false
    let plain = try TiledAttention.run(q: .float(queries, q.shape), k: k, v: v, mask: .none, options: options)
    #expect(plain.floats[(3 * 32)..<(4 * 32)].allSatisfy { $0.isNaN })
  }
}
