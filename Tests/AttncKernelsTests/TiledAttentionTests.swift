@testable import AttncKernels
import AttncTestSupport
import Foundation
import Testing

/// The fused, tiled attention kernel against a plain reference that materialises the scores:
/// blocks smaller than the sequences make the larger cases walk several key blocks (online
/// softmax); each instruction set the machine has is checked on its own.
@Suite struct TiledAttentionTests {
  struct Case {
    var batch = 2, heads = 4, kvHeads = 4, queries = 7, keys = 7, depth = 5, valueDepth = 6
    var scale: Float = 0.4
    var causal = false
    var softcap: Float = 0
  }

  /// Deterministic values in [-2, 2).
  static func values(_ count: Int, seed: UInt64) -> [Float] {
    SeededValues.floats(count, seed: seed, amplitude: 2)
  }

  /// Attention as a plan's softmax setting runs it: `FusedAttentionCall` (no mask, not causal)
  /// with the variant parameters `values` on q, k, v.
  static func viaCall(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float, _ values: [String: Double]) throws -> [Float] {
    let call = FusedAttentionCall(scale: scale, causal: false, softcap: 0, mask: .none, maskFill: 0, variantValues: values)
    return try call.evaluate(KernelContext(), [q, k, v])[0].floats.owned
  }

  /// How far variant parameters `values` move the outputs from `base`'s (largest difference) on
  /// a small case (2 heads, 40 tokens, d = 16) through `viaCall`: the check that a setting reaches
  /// the kernel.
  static func difference(_ values: [String: Double], from base: [String: Double] = [:]) throws -> Float {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 40, keys: 40, depth: 16, valueDepth: 16)
    let (q, k, v) = operands(c)
    return Reference.maxDifference(try viaCall(q, k, v, scale: c.scale, values), try viaCall(q, k, v, scale: c.scale, base))
  }

  static func operands(_ c: Case) -> (q: Tensor, k: Tensor, v: Tensor) {
    (.float(values(c.batch * c.heads * c.queries * c.depth, seed: 1), [c.batch, c.heads, c.queries, c.depth]),
     .float(values(c.batch * c.kvHeads * c.keys * c.depth, seed: 2), [c.batch, c.kvHeads, c.keys, c.depth]),
     .float(values(c.batch * c.kvHeads * c.keys * c.valueDepth, seed: 3), [c.batch, c.kvHeads, c.keys, c.valueDepth]))
  }

  /// Row `i` of head `h`, batch `b`: `softcap(scale·q·kᵀ) + add(b, h, i, j)` over the keys, −inf
  /// past the causal diagonal, in Double.
  static func scores(_ c: Case, q: [Float], k: [Float], _ b: Int, _ h: Int, _ i: Int, add: (Int, Int, Int, Int) -> Float) -> [Double] {
    let g = h / (c.heads / c.kvHeads)
    var scores = [Double](repeating: -.infinity, count: c.keys)
    for j in 0..<c.keys where !(c.causal && j > i + c.keys - c.queries) {
      var dot: Double = 0
      for t in 0..<c.depth {
        dot += Double(q[((b * c.heads + h) * c.queries + i) * c.depth + t]) * Double(k[((b * c.kvHeads + g) * c.keys + j) * c.depth + t])
      }
      var s = dot * Double(c.scale)
      if c.softcap > 0 { s = Double(c.softcap) * Foundation.tanh(s / Double(c.softcap)) }
      scores[j] = s + Double(add(b, h, i, j))
    }
    return scores
  }

  /// `body(b, h, g, i)` for every batch item, query head, its key/value head and query row.
  static func forEachRow(_ c: Case, _ body: (Int, Int, Int, Int) -> Void) {
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        for i in 0..<c.queries { body(b, h, h / (c.heads / c.kvHeads), i) }
      }
    }
  }

  /// `softmax(softcap(scale·q·kᵀ) + add(b, h, i, j)) · v`, causal cut with −inf, in Double;
  /// an all −inf row gives zeros.
  static func reference(_ c: Case, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    let (q, k, v) = operands(c)
    let (qf, kf) = (q.floats.owned, k.floats.owned)
    var y = [Float](repeating: 0, count: c.batch * c.heads * c.queries * c.valueDepth)
    forEachRow(c) { b, h, g, i in
      let scores = Self.scores(c, q: qf, k: kf, b, h, i, add: add)
      let top = scores.max()!
      guard top > -.infinity else { return }
      let weights = scores.map { Foundation.exp($0 - top) }
      let total = weights.reduce(0, +)
      for e in 0..<c.valueDepth {
        var sum: Double = 0
        for j in 0..<c.keys { sum += weights[j] * Double(v.floats[((b * c.kvHeads + g) * c.keys + j) * c.valueDepth + e]) }
        y[((b * c.heads + h) * c.queries + i) * c.valueDepth + e] = Float(sum / total)
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
    let worst = Reference.maxDifference(y.floats, expected)
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

// MARK: - Per-key weights (proportional attention, `key_weights`)

extension TiledAttentionTests {
  /// Deterministic weights in [0.1, 3.1).
  static func positiveWeights(_ count: Int, seed: UInt64) -> [Float] {
    values(count, seed: seed).map { $0 * 0.75 + 1.6 }
  }

  /// Batch `b` of a `[B, H, L, x]` tensor as `[1, H, L, x]`.
  static func batch(_ x: Tensor, _ b: Int) -> Tensor {
    let size = x.count / x.shape[0]
    return .float(Array(x.floats[(b * size)..<((b + 1) * size)]), [1] + x.shape.dropFirst())
  }

  /// `[1, H, L, x]` with key `j` repeated `counts[j]` times in every head (0 drops it).
  static func repeated(_ x: Tensor, _ counts: [Int]) -> Tensor {
    let (heads, keys, width) = (x.shape[1], x.shape[2], x.shape[3])
    var result: [Float] = []
    for h in 0..<heads {
      for j in 0..<keys {
        let row = x.floats[((h * keys + j) * width)..<((h * keys + j + 1) * width)]
        for _ in 0..<counts[j] { result += row }
      }
    }
    return .float(result, [1, heads, counts.reduce(0, +), width])
  }

  static let weightCases = [
    Case(keys: 9), Case(keys: 9, causal: true), Case(heads: 6, kvHeads: 2, queries: 5, keys: 11, causal: true),
    Case(heads: 6, kvHeads: 2, queries: 9, keys: 6),
  ]

  @Test(arguments: weightCases)
  func keyWeightsAddTheirLogarithm(_ c: Case) throws {
    let weights = Self.positiveWeights(c.batch * c.keys, seed: 21)
    try check(c, .keyWeights(.float(weights, [c.batch, c.keys]))) { b, _, _, j in Foundation.log(weights[b * c.keys + j]) }
  }

  @Test(arguments: weightCases)
  func tiledKeyWeightsMatchThePlainReference(_ c: Case) throws {
    let (q, k, v) = Self.operands(c)
    var weights = Self.positiveWeights(c.batch * c.keys, seed: 23)
    weights[1] = 0
    let mask = Tensor.float(weights, [c.batch, c.keys])
    let options = TiledAttention.Options(scale: c.scale, causal: c.causal, queryBlock: 2, keyBlock: 3)
    let tiled = try TiledAttention.run(q: q, k: k, v: v, mask: .keyWeights(mask), options: options)
    // `nonpad_kv_seqlen` = L puts the reference's causal diagonal bottom-right, as the kernel's.
    let everyKey = Tensor.int([Int64](repeating: Int64(c.keys), count: c.batch), [c.batch])
    let plain = try AttentionReference.run(
      q: q, k: k, v: v, mask: nil, pastKey: nil, pastValue: nil, nonpad: everyKey, keyWeights: mask,
      options: .init(qHeads: nil, kvHeads: nil, scale: c.scale, causal: c.causal, softcap: 0, qkMode: 0))[0]
    let worst = Reference.maxDifference(tiled.floats, plain.floats)
    #expect(worst < 1e-5, "max abs error \(worst)")
  }

  /// Integer weights are key duplication: key `j` repeated `w_j` times with its value, no mask
  /// (`w_j = 0` drops the key). Without causality: repeating keys moves the later ones, and the
  /// bottom-right causal cut with them.
  @Test func integerWeightsEqualRepeatedKeys() throws {
    let c = Case(heads: 6, kvHeads: 2, queries: 8, keys: 7)
    let counts = [[2, 0, 1, 3, 1, 0, 2], [1, 4, 0, 0, 1, 1, 2]]
    let (q, k, v) = Self.operands(c)
    let weights = Tensor.float(counts.joined().map(Float.init), [2, 7])
    let options = TiledAttention.Options(scale: c.scale, queryBlock: 3, keyBlock: 4)
    let tiled = try TiledAttention.run(q: q, k: k, v: v, mask: .keyWeights(weights), options: options)
    let plain = try AttentionReference.run(
      q: q, k: k, v: v, mask: nil, pastKey: nil, pastValue: nil, nonpad: nil, keyWeights: weights,
      options: .init(qHeads: nil, kvHeads: nil, scale: c.scale, causal: false, softcap: 0, qkMode: 0))[0]
    for b in 0..<2 {
      let qb = Self.batch(q, b), kb = Self.repeated(Self.batch(k, b), counts[b]), vb = Self.repeated(Self.batch(v, b), counts[b])
      let duplicated = try TiledAttention.run(q: qb, k: kb, v: vb, mask: .none, options: options)
      let size = duplicated.count
      for (name, weighted) in [("tiled", tiled), ("reference", plain)] {
        let slice = weighted.floats[(b * size)..<((b + 1) * size)]
        let worst = Reference.maxDifference(slice, duplicated.floats)
        #expect(worst < 1e-5, "\(name), batch \(b): max abs error \(worst)")
      }
    }
  }

  /// Weights of 0 and 1 are key padding with a −inf fill, to the bit.
  @Test func zeroAndOneWeightsAreKeyPadding() throws {
    let c = Case(keys: 9, causal: true)
    let padding: [Int64] = [1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    let (q, k, v) = Self.operands(c)
    let options = TiledAttention.Options(scale: c.scale, causal: true, queryBlock: 3, keyBlock: 4)
    let weighted = try TiledAttention.run(q: q, k: k, v: v, mask: .keyWeights(.float(padding.map(Float.init), [2, 9])), options: options)
    let padded = try TiledAttention.run(q: q, k: k, v: v, mask: .keyPadding(.int(padding, [2, 9]), fill: -.infinity), options: options)
    #expect(weighted.floats == padded.floats)
  }

  /// Batch 0 weighs nothing; in batch 1 the first three keys weigh 0, so under the causal cut
  /// the first three queries see only weightless keys. Those rows are zeros, not NaN.
  @Test func rowsWhoseKeysAllWeighZeroGiveZeros() throws {
    let c = Case(queries: 7, keys: 7, causal: true)
    let weights: [Float] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0.5, 3]
    let (q, k, v) = Self.operands(c)
    let options = TiledAttention.Options(scale: c.scale, causal: true, queryBlock: 3, keyBlock: 2)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: .keyWeights(.float(weights, [2, 7])), options: options)
    let plain = try AttentionReference.run(
      q: q, k: k, v: v, mask: nil, pastKey: nil, pastValue: nil, nonpad: nil, keyWeights: .float(weights, [2, 7]),
      options: .init(qHeads: nil, kvHeads: nil, scale: c.scale, causal: true, softcap: 0, qkMode: 0))[0]
    let row = c.valueDepth, perHead = c.queries * row
    for h in 0..<c.heads {
      #expect(y.floats[(h * perHead)..<((h + 1) * perHead)].allSatisfy { $0 == 0 }, "batch 0, head \(h)")
      let second = (c.heads + h) * perHead
      #expect(y.floats[second..<(second + 3 * row)].allSatisfy { $0 == 0 }, "batch 1, head \(h)")
      #expect(y.floats[(second + 3 * row)..<(second + perHead)].contains { $0 != 0 }, "batch 1, head \(h)")
    }
    #expect(!y.floats.contains { $0.isNaN })
    #expect(plain.floats.allSatisfy { !$0.isNaN })
    let worst = Reference.maxDifference(y.floats, plain.floats)
    #expect(worst < 1e-5, "max abs error \(worst)")
  }

  @Test func negativeOrMisshapenWeightsAreAnError() throws {
    let (q, k, v) = Self.operands(Case(keys: 3))
    for weights in [Tensor.float([1, 1, -1, 1, 1, 1], [2, 3]), .float([1, 1, 1], [1, 3]), .int([1, 1, 1, 1, 1, 1], [2, 3])] {
      #expect(throws: (any Error).self) {
        try TiledAttention.run(q: q, k: k, v: v, mask: .keyWeights(weights), options: .init(scale: 1))
      }
    }
  }
}

// MARK: - Every instruction set, head sizes and ragged tiles

extension TiledAttentionTests {
  /// Head sizes around the vector widths (8, 16) and panel widths (16, 32), query counts that
  /// are not multiples of the 6- or 12-row strips, key counts that end inside a panel.
  static let tileCases: [Case] = [
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 37, keys: 70, depth: 32, valueDepth: 32, scale: 0.18),
    Case(batch: 1, heads: 2, kvHeads: 1, queries: 29, keys: 101, depth: 64, valueDepth: 64, scale: 0.125, causal: true),
    Case(batch: 2, heads: 3, kvHeads: 3, queries: 13, keys: 45, depth: 80, valueDepth: 80, scale: 0.11),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 25, keys: 66, depth: 128, valueDepth: 128, scale: 0.088, causal: true),
    Case(batch: 1, heads: 4, kvHeads: 2, queries: 19, keys: 33, depth: 33, valueDepth: 40, scale: 0.17),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 50, keys: 17, depth: 1, valueDepth: 24, scale: 0.9, causal: true),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 14, keys: 64, depth: 16, valueDepth: 7, scale: 0.25),
    Case(batch: 1, heads: 2, kvHeads: 2, queries: 14, keys: 40, depth: 24, valueDepth: 16, scale: 1.5, softcap: 4),
  ]

  /// The kernel with `kernels` and 32-key blocks (several online-softmax steps) against the
  /// Double reference.
  func checkTiles(
    _ c: Case, _ kernels: TiledAttention.Kernels, _ mask: TiledAttention.Mask = .none,
    add: (Int, Int, Int, Int) -> Float = { _, _, _, _ in 0 }
  ) throws {
    let (q, k, v) = Self.operands(c)
    let options = TiledAttention.Options(
      scale: c.scale, causal: c.causal, softcap: c.softcap, queryBlock: 16, keyBlock: 32, kernels: kernels)
    let y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options)
    let expected = Self.reference(c, add: add)
    let worst = Reference.maxDifference(y.floats, expected)
    #expect(worst < 2e-5, "\(kernels): max abs error \(worst)")
    #expect(!y.floats.contains { $0.isNaN })
  }

  @Test(arguments: TiledAttention.Kernels.allCases, tileCases)
  func everyInstructionSetMatchesTheReference(_ kernels: TiledAttention.Kernels, _ c: Case) throws {
    try checkTiles(c, kernels)
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func everyInstructionSetHonoursKeyPadding(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 2, kvHeads: 2, queries: 21, keys: 75, depth: 32, valueDepth: 32, scale: 0.18, causal: true)
    // Batch 1 pads its first 40 keys with −inf: its first rows see none of their keys.
    let padding = (0..<(2 * 75)).map { $0 % 75 < 70 && !($0 >= 75 && $0 % 75 < 40) ? Int64(1) : 0 }
    try checkTiles(c, kernels, .keyPadding(.int(padding, [2, 75]), fill: -.infinity)) { b, _, _, j in
      padding[b * 75 + j] == 0 ? -.infinity : 0
    }
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func everyInstructionSetAddsABiasPerQueryAndKey(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 1, queries: 23, keys: 50, depth: 64, valueDepth: 48, scale: 0.125)
    let bias = Self.values(2 * 23 * 50, seed: 31)
    try checkTiles(c, kernels, .bias(.float(bias, [1, 2, 23, 50]))) { _, h, i, j in bias[(h * 23 + i) * 50 + j] }
  }

  @Test(arguments: TiledAttention.Kernels.allCases)
  func everyInstructionSetWeighsKeys(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 2, heads: 2, kvHeads: 2, queries: 17, keys: 65, depth: 32, valueDepth: 32, scale: 0.18)
    var weights = Self.positiveWeights(2 * 65, seed: 41)
    for j in 0..<33 { weights[65 + j] = 0 }
    try checkTiles(c, kernels, .keyWeights(.float(weights, [2, 65]))) { b, _, _, j in
      Foundation.log(weights[b * 65 + j])
    }
  }

  /// A NaN score reaches its row of the output, as in a softmax over the whole row.
  @Test(arguments: TiledAttention.Kernels.allCases)
  func aNaNKeyPoisonsTheRowsThatSeeIt(_ kernels: TiledAttention.Kernels) throws {
    let c = Case(batch: 1, heads: 1, kvHeads: 1, queries: 9, keys: 40, depth: 32, valueDepth: 32, scale: 0.18, causal: true)
    let (q, k, v) = Self.operands(c)
    var keys = k.floats.owned
    keys[35 * 32] = .nan  // key 35: seen by query i when 35 ≤ i + 31
    let options = TiledAttention.Options(scale: c.scale, causal: true, keyBlock: 32, kernels: kernels)
    let y = try TiledAttention.run(q: q, k: .float(keys, k.shape), v: v, mask: .none, options: options)
    for i in 0..<9 {
      let row = y.floats[(i * 32)..<((i + 1) * 32)]
      #expect(row.allSatisfy(\.isNaN) == (i >= 4), "query \(i)")
      #expect(row.contains(where: \.isNaN) == (i >= 4), "query \(i)")
    }
  }
}
