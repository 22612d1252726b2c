import AttncKernels
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `TokenMerge` against a plain bipartite-matching loop in Double, hand-computed merges, and the
/// defining property of proportional attention.
@Suite struct TokenMergeTests {
  // MARK: - Reference

  /// ToMe's matching of one batch item, term by term: cosine of every even row with every odd
  /// row, each unprotected even row's best unprotected odd row, the `r` best even rows merged.
  /// Returns the merged positions (best first), the kept positions `[unmerged even ; odd]` and
  /// the smallest gap between two compared scores (to reject near-ties).
  struct ReferenceMatch {
    var merged: [Int]
    var order: [Int]
    var destination: [Int]
    var smallestGap: Double
  }

  static func referenceMatch(_ rows: [[Double]], r: Int, protected: Set<Int>) -> ReferenceMatch {
    let n = rows.count
    func cosine(_ a: [Double], _ b: [Double]) -> Double {
      var dot = 0.0, na = 0.0, nb = 0.0
      for i in 0..<a.count {
        dot += a[i] * b[i]
        na += a[i] * a[i]
        nb += b[i] * b[i]
      }
      return dot / (na.squareRoot() * nb.squareRoot())
    }
    var gap = Double.infinity
    var best: [(position: Int, score: Double, partner: Int)] = []
    for a in stride(from: 0, to: n, by: 2) where !protected.contains(a) {
      var scores: [(Double, Int)] = []
      for b in stride(from: 1, to: n, by: 2) where !protected.contains(b) {
        scores.append((cosine(rows[a], rows[b]), b))
      }
      scores.sort { $0.0 > $1.0 }
      if scores.count > 1 { gap = min(gap, scores[0].0 - scores[1].0) }
      best.append((a, scores[0].0, scores[0].1))
    }
    best.sort { $0.score > $1.score }
    for i in 1..<max(1, best.count) { gap = min(gap, best[i - 1].score - best[i].score) }
    let chosen = Array(best.prefix(r))
    let mergedSet = Set(chosen.map(\.position))
    let order =
      stride(from: 0, to: n, by: 2).filter { !mergedSet.contains($0) } + Array(stride(from: 1, to: n, by: 2))
    var destination = [Int](repeating: -1, count: n)
    for (slot, position) in order.enumerated() { destination[position] = slot }
    for edge in chosen { destination[edge.position] = destination[edge.partner] }
    return ReferenceMatch(merged: chosen.map(\.position), order: order, destination: destination, smallestGap: gap)
  }

  static func rows(_ t: Tensor, batch b: Int) -> [[Double]] {
    let (n, width) = (t.shape[1], t.shape[2])
    return (0..<n).map { i in (0..<width).map { Double(t.floats[(b * n + i) * width + $0]) } }
  }
}

// MARK: - Matching

extension TokenMergeTests {
  @Test(arguments: [(16, 1, false), (16, 4, false), (17, 8, false), (33, 9, true), (32, 15, true)])
  func matchingAgreesWithReference(tokens: Int, r: Int, protectFirst: Bool) throws {
    let protected: Set<Int> = protectFirst ? [0] : []
    var seed: UInt64 = UInt64(tokens * 100 + r)
    var checked = 0
    while checked < 3 {
      seed += 1
      let metric = Tensor.float(SeededValues.floats(2 * tokens * 8, seed: seed), [2, tokens, 8])
      let references = (0..<2).map { Self.referenceMatch(Self.rows(metric, batch: $0), r: r, protected: protected) }
      // Near-ties are decided by rounding; reject them rather than test rounding.
      guard references.allSatisfy({ $0.smallestGap > 1e-4 }) else { continue }
      checked += 1
      let matching = try TokenMerge.match(metric: metric, r: r, protected: protected)
      #expect(matching.merged == r && matching.outputTokens == tokens - r)
      for (item, reference) in zip(matching.items, references) {
        #expect(item.merged == reference.merged)
        #expect(item.order == reference.order)
        #expect(item.destination == reference.destination)
      }
    }
  }

  @Test func protectedClassTokenNeverMergesAndStaysFirst() throws {
    let tokens = 9
    var floats = SeededValues.floats(tokens * 4, seed: 11)
    // Token 0 is identical to token 1: the best edge of all, were it not protected.
    for i in 0..<4 { floats[4 + i] = floats[i] }
    let metric = Tensor.float(floats, [1, tokens, 4])
    let free = try TokenMerge.match(metric: metric, r: 1)
    #expect(free.items[0].merged == [0])
    let matching = try TokenMerge.match(metric: metric, r: 100, protected: [0])
    #expect(matching.merged == 4)  // |A| = 5 even positions, minus the protected one
    let item = matching.items[0]
    #expect(!item.merged.contains(0))
    #expect(item.order.first == 0 && item.destination[0] == 0)
    #expect(item.sources[0] == [0])
  }

  @Test func protectedDestinationReceivesNothing() throws {
    let metric = Tensor.float(SeededValues.floats(8 * 3, seed: 5), [1, 8, 3])
    let item = try TokenMerge.match(metric: metric, r: 4, protected: [1]).items[0]
    #expect(item.sources[item.destination[1]] == [1])
  }
}

// MARK: - Merge and unmerge

extension TokenMergeTests {
  /// Metric angles 10°, 90°, 100°, 180°, 175°, 270°: A = {0, 2, 4}, B = {1, 3, 5}; best edges
  /// 0→1 (cos 80°), 2→1 (cos 10°), 4→3 (cos 5°); r = 2 merges 4 into 3, then 2 into 1.
  @Test func mergesBySizeWeightedMean() throws {
    let degrees: [Double] = [10, 90, 100, 180, 175, 270]
    let metric = Tensor.float(
      degrees.flatMap { [Float(cos($0 * .pi / 180)), Float(sin($0 * .pi / 180))] }, [1, 6, 2])
    let matching = try TokenMerge.match(metric: metric, r: 2)
    let item = matching.items[0]
    #expect(item.merged == [4, 2])
    #expect(item.order == [0, 1, 3, 5])
    #expect(item.destination == [0, 1, 1, 2, 2, 3])
    #expect(item.sources == [[0], [1, 2], [3, 4], [5]])

    let x = Tensor.float((0..<6).flatMap { [Float($0), Float(10 * $0)] }, [1, 6, 2])
    let sizes = Tensor.float([1, 1, 2, 1, 3, 1], [1, 6])
    let (merged, mergedSizes) = try TokenMerge.merge(x: x, sizes: sizes, matching: matching)
    #expect(merged.shape == [1, 4, 2] && mergedSizes.shape == [1, 4])
    // (1·1 + 2·2)/3 = 5/3; (1·3 + 3·4)/4 = 15/4.
    let expected: [Float] = [0, 0, 5.0 / 3, 50.0 / 3, 3.75, 37.5, 5, 50]
    for (got, want) in zip(merged.floats, expected) { #expect(abs(got - want) <= 1e-5 * max(1, abs(want))) }
    #expect(mergedSizes.floats == [1, 3, 4, 1])
    let bias = try TokenMerge.proportionalBias(sizes: mergedSizes)
    #expect(bias.shape == [1, 1, 1, 4])
    for (got, want) in zip(bias.floats, [0, Foundation.log(3.0), Foundation.log(4.0), 0] as [Double]) { #expect(abs(Double(got) - want) <= 1e-6) }
  }

  @Test func mergingNothingIsTheIdentity() throws {
    let x = Tensor.float(SeededValues.floats(2 * 7 * 5, seed: 3), [2, 7, 5])
    let sizes = Tensor.float(SeededValues.floats(14, seed: 4).map { 1 + abs($0) * 3 }, [2, 7])
    // r = 0, and r > 0 with every odd position protected (nothing to merge into).
    for matching in [try TokenMerge.match(metric: x, r: 0), try TokenMerge.match(metric: x, r: 3, protected: [1, 3, 5])] {
      #expect(matching.merged == 0)
      #expect(matching.items.allSatisfy { $0.order == Array(0..<7) && $0.destination == Array(0..<7) })
      let (merged, mergedSizes) = try TokenMerge.merge(x: x, sizes: sizes, matching: matching)
      #expect(merged.shape == x.shape && merged.floats == x.floats)
      #expect(mergedSizes.shape == sizes.shape && mergedSizes.floats == sizes.floats)
      #expect(try TokenMerge.unmerge(y: x, matching: matching).floats == x.floats)
    }
  }

  /// Rows 2k and 2k+1 (k = 0, 2, 4) are equal with equal sizes, so their weights are exactly ½
  /// and unmerge restores every row bit for bit.
  @Test func mergeThenUnmergeRestoresIdenticalTokens() throws {
    let (tokens, width) = (12, 6)
    var floats = SeededValues.floats(2 * tokens * width, seed: 21)
    var sizes = [Float](repeating: 1, count: 2 * tokens)
    for b in 0..<2 {
      for k in [0, 4, 8] {
        for i in 0..<width { floats[(b * tokens + k + 1) * width + i] = floats[(b * tokens + k) * width + i] }
        sizes[b * tokens + k] = Float(k + 2)
        sizes[b * tokens + k + 1] = Float(k + 2)
      }
    }
    let x = Tensor.float(floats, [2, tokens, width])
    let matching = try TokenMerge.match(metric: x, r: 3)
    #expect(matching.items.allSatisfy { Set($0.merged) == [0, 4, 8] })
    let (merged, mergedSizes) = try TokenMerge.merge(x: x, sizes: .float(sizes, [2, tokens]), matching: matching)
    #expect(merged.shape == [2, tokens - 3, width])
    #expect(mergedSizes.floats.reduce(0, +) == sizes.reduce(0, +))
    let restored = try TokenMerge.unmerge(y: merged, matching: matching)
    #expect(restored.shape == x.shape && restored.floats == x.floats)
  }

  @Test func metricAveragesKeysOverHeads() throws {
    let keys = Tensor.float((0..<(2 * 3 * 2)).map(Float.init), [1, 2, 3, 2])
    let metric = try TokenMerge.metric(keys: keys)
    #expect(metric.shape == [1, 3, 2])
    #expect(metric.floats == [3, 4, 5, 6, 7, 8])
  }
}

// MARK: - Proportional attention

extension TokenMergeTests {
  /// A merged key of size s with `+log s` on its score is s identical keys: attention over the
  /// merged keys and values equals attention over the originals when every merged group was
  /// identical (groups of 2 and 3 here).
  @Test func proportionalAttentionEqualsAttentionOverDuplicates() throws {
    let (tokens, depth, queries) = (10, 4, 5)
    var keys = SeededValues.floats(tokens * depth, seed: 31)
    var values = SeededValues.floats(tokens * depth, seed: 32)
    // Groups {0, 1, 2} (A tokens 0 and 2 merge into B token 1) and {5, 6} (A 6 into B 5).
    for (from, to) in [(1, 0), (1, 2), (5, 6)] {
      for i in 0..<depth {
        keys[to * depth + i] = keys[from * depth + i]
        values[to * depth + i] = values[from * depth + i]
      }
    }
    let k = Tensor.float(keys, [1, tokens, depth]), v = Tensor.float(values, [1, tokens, depth])
    let matching = try TokenMerge.match(metric: k, r: 3)
    #expect(Set(matching.items[0].merged) == [0, 2, 6])
    let ones = Tensor.float([Float](repeating: 1, count: tokens), [1, tokens])
    let (mk, sizes) = try TokenMerge.merge(x: k, sizes: ones, matching: matching)
    let (mv, _) = try TokenMerge.merge(x: v, sizes: ones, matching: matching)
    let bias = try TokenMerge.proportionalBias(sizes: sizes)
    let q = Tensor.float(SeededValues.floats(queries * depth, seed: 33).map { $0 * 2 }, [1, queries, depth])
    let qRows = Self.rows(q, batch: 0)

    let full = Reference.softmaxAttention(
      qRows, Self.rows(k, batch: 0), Self.rows(v, batch: 0))
    let proportional = Reference.softmaxAttention(
      qRows, Self.rows(mk, batch: 0), Self.rows(mv, batch: 0), bias: bias.floats.map(Double.init))
    let plain = Reference.softmaxAttention(
      qRows, Self.rows(mk, batch: 0), Self.rows(mv, batch: 0))
    let kernel = try TiledAttention.run(
      q: q.reshaped([1, 1, queries, depth]), k: mk.reshaped([1, 1, 7, depth]), v: mv.reshaped([1, 1, 7, depth]),
      mask: .bias(bias), options: .init(scale: 1))
    var withoutBias = 0.0
    for i in 0..<queries {
      for j in 0..<depth {
        #expect(abs(proportional[i][j] - full[i][j]) <= 1e-6)
        #expect(abs(Double(kernel.floats[i * depth + j]) - full[i][j]) <= 1e-5)
        withoutBias = max(withoutBias, abs(plain[i][j] - full[i][j]))
      }
    }
    #expect(withoutBias > 1e-3)  // the bias is what makes them equal
  }
}

// MARK: - Errors

extension TokenMergeTests {
  @Test func rejectsBadShapesAndArguments() throws {
    let metric = Tensor.float(SeededValues.floats(2 * 6 * 3, seed: 1), [2, 6, 3])
    let matching = try TokenMerge.match(metric: metric, r: 2)
    let ones = Tensor.float([Float](repeating: 1, count: 12), [2, 6])
    func message(_ body: () throws -> Void) -> String {
      do {
        try body()
        return ""
      } catch { return (error as? AttncError)?.message ?? "\(error)" }
    }
    #expect(message { _ = try TokenMerge.match(metric: metric, r: -1) } == "token merge: r must be non-negative, got -1")
    #expect(
      message { _ = try TokenMerge.match(metric: metric.reshaped([12, 3]), r: 1) }
        == "token merge: metric must be a float [B, N, c] tensor with c > 0, got shape [12, 3]")
    #expect(
      message { _ = try TokenMerge.match(metric: metric, r: 1, protected: [6]) }
        == "token merge: protected position 6 is out of range for 6 tokens")
    #expect(
      message { _ = try TokenMerge.match(metric: .float([.nan, 0, 0, 0], [1, 2, 2]), r: 1) }
        == "token merge: metric holds a non-finite value")
    #expect(
      message { _ = try TokenMerge.merge(x: metric.reshaped([2, 3, 6]), sizes: ones, matching: matching) }
        == "token merge: x must be a float [2, 6, D] tensor, got shape [2, 3, 6]")
    #expect(
      message { _ = try TokenMerge.merge(x: metric, sizes: ones.reshaped([12]), matching: matching) }
        == "token merge: sizes must be a float [2, 6] tensor, got shape [12]")
    #expect(
      message { _ = try TokenMerge.merge(x: metric, sizes: .float([Float](repeating: 0, count: 12), [2, 6]), matching: matching) }
        == "token merge: tokens of total size 0 were merged")
    #expect(
      message { _ = try TokenMerge.merge(x: metric, sizes: .float([Float](repeating: -1, count: 12), [2, 6]), matching: matching) }
        == "token merge: sizes must be non-negative and finite")
    #expect(
      message { _ = try TokenMerge.unmerge(y: metric, matching: matching) }
        == "token unmerge: y must be a float [2, 4, D] tensor, got shape [2, 6, 3]")
    #expect(
      message { _ = try TokenMerge.proportionalBias(sizes: ones.reshaped([12])) }
        == "token merge: sizes must be a float [B, N] tensor, got shape [12]")
    #expect(
      message { _ = try TokenMerge.metric(keys: metric) }
        == "token merge: keys must be a float [B, H, N, d] tensor, got shape [2, 6, 3]")
  }

  /// More than may merge is clamped (ToMe's `r ≤ (N − protected)/2`), not an error.
  @Test func clampsRToTheMergeableCount() throws {
    let metric = Tensor.float(SeededValues.floats(7 * 3, seed: 2), [1, 7, 3])
    #expect(TokenMerge.mergeableCount(tokens: 7, protected: []) == 4)
    #expect(TokenMerge.mergeableCount(tokens: 7, protected: [0, 2]) == 2)
    #expect(TokenMerge.mergeableCount(tokens: 7, protected: [1, 3, 5]) == 0)
    #expect(try TokenMerge.match(metric: metric, r: 100).merged == 4)
    #expect(try TokenMerge.match(metric: metric, r: 100, protected: [0, 2]).outputTokens == 5)
  }
}
