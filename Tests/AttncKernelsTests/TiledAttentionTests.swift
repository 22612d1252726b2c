import AttncKernels
import Foundation
import Testing

/// The fused, tiled attention kernel against a plain reference that materialises the scores:
/// tiles smaller than the sequences make every case walk several key blocks (online softmax).
@Suite struct TiledAttentionTests {
  struct Case {
    var batch = 2, heads = 4, kvHeads = 4, queries = 7, keys = 7, depth = 5, valueDepth = 6
    var scale: Float = 0.4
    var causal = false
    var softcap: Float = 0
  }

  /// Deterministic values in [-2, 2).
  static func values(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Float(state >> 40) / Float(1 << 24) * 4 - 2
    }
  }

  static func operands(_ c: Case) -> (q: Tensor, k: Tensor, v: Tensor) {
    (.float(values(c.batch * c.heads * c.queries * c.depth, seed: 1), [c.batch, c.heads, c.queries, c.depth]),
     .float(values(c.batch * c.kvHeads * c.keys * c.depth, seed: 2), [c.batch, c.kvHeads, c.keys, c.depth]),
     .float(values(c.batch * c.kvHeads * c.keys * c.valueDepth, seed: 3), [c.batch, c.kvHeads, c.keys, c.valueDepth]))
  }

  /// `softmax(softcap(scale·q·kᵀ) + add(b, h, i, j)) · v`, causal cut with −inf, in Double;
  /// an all −inf row gives zeros.
  static func reference(_ c: Case, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    let (q, k, v) = operands(c)
    var y = [Float](repeating: 0, count: c.batch * c.heads * c.queries * c.valueDepth)
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let g = h / (c.heads / c.kvHeads)
        for i in 0..<c.queries {
          var scores = [Double](repeating: -.infinity, count: c.keys)
          for j in 0..<c.keys where !(c.causal && j > i + c.keys - c.queries) {
            var dot: Double = 0
            for t in 0..<c.depth {
              dot += Double(q.floats[((b * c.heads + h) * c.queries + i) * c.depth + t]) * Double(k.floats[((b * c.kvHeads + g) * c.keys + j) * c.depth + t])
            }
            var s = dot * Double(c.scale)
            if c.softcap > 0 { s = Double(c.softcap) * Foundation.tanh(s / Double(c.softcap)) }
            scores[j] = s + Double(add(b, h, i, j))
          }
          let top = scores.max()!
          guard top > -.infinity else { continue }
          let weights = scores.map { Foundation.exp($0 - top) }
          let total = weights.reduce(0, +)
          for e in 0..<c.valueDepth {
            var sum: Double = 0
            for j in 0..<c.keys { sum += weights[j] * Double(v.floats[((b * c.kvHeads + g) * c.keys + j) * c.valueDepth + e]) }
            y[((b * c.heads + h) * c.queries + i) * c.valueDepth + e] = Float(sum / total)
          }
        }
      }
    }
    return y
  }

  func check(_ c: Case, _ mask: TiledAttention.Mask = .none, add: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }) throws {
    let (q, k, v) = Self.operands(c)
    let options = TiledAttention.Options(scale: c.scale, causal: c.causal, softcap: c.softcap, queryBlock: 3, keyBlock: 4)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options)
    #expect(y.shape == [c.batch, c.heads, c.queries, c.valueDepth])
    let expected = Self.reference(c, add: add)
    let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(worst < 1e-5, "max abs error \(worst)")
    #expect(!y.floats.contains { $0.isNaN })
  }

  @Test func plain() throws { try check(Case()) }

  @Test func causalSquare() throws { try check(Case(causal: true)) }

  @Test func causalBottomRightWithMoreKeys() throws { try check(Case(queries: 5, keys: 11, causal: true)) }

  @Test func causalWithMoreQueriesThanKeysGivesZeroRows() throws {
    // Query i sees keys j ≤ i − 3: the first three rows see nothing and give zeros.
    try check(Case(queries: 9, keys: 6, causal: true))
  }

  @Test func groupedQueryAttention() throws { try check(Case(heads: 6, kvHeads: 2, causal: true)) }

  @Test func multiQueryAttention() throws { try check(Case(heads: 3, kvHeads: 1)) }

  @Test func softcap() throws { try check(Case(scale: 2.5, softcap: 3)) }

  @Test func keyPaddingAddsTheFill() throws {
    let c = Case(keys: 9)
    let padding: [Int64] = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    try check(c, .keyPadding(.int(padding, [2, 9]), fill: -1e4)) { b, _, _, j in padding[b * 9 + j] == 0 ? -1e4 : 0 }
  }

  @Test func fullyMaskedRowsWithInfiniteFillGiveZeros() throws {
    let c = Case(keys: 5)
    let padding: [Int64] = [0, 0, 0, 0, 0, 1, 0, 1, 0, 1]
    try check(c, .keyPadding(.int(padding, [2, 5]), fill: -.infinity)) { b, _, _, j in padding[b * 5 + j] == 0 ? -.infinity : 0 }
  }

  @Test func broadcastBiasPerQueryAndKey() throws {
    let c = Case(queries: 6, keys: 10, causal: true)
    let bias = Self.values(6 * 10, seed: 9)
    try check(c, .bias(.float(bias, [1, 1, 6, 10]))) { _, _, i, j in bias[i * 10 + j] }
  }

  @Test func fullBiasPerBatchAndHead() throws {
    let c = Case(heads: 2, kvHeads: 2, queries: 4, keys: 8)
    let bias = Self.values(2 * 2 * 4 * 8, seed: 11)
    try check(c, .bias(.float(bias, [2, 2, 4, 8]))) { b, h, i, j in bias[((b * 2 + h) * 4 + i) * 8 + j] }
  }

  @Test func mismatchedOperandsAreAnError() throws {
    let (q, k, _) = Self.operands(Case())
    let v = Tensor.float([Float](repeating: 0, count: 2 * 4 * 3 * 6), [2, 4, 3, 6])
    #expect(throws: (any Error).self) {
      try TiledAttention.run(q: q, k: k, v: v, mask: .none, options: .init(scale: 1))
    }
  }
}
