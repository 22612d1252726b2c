import AttncTensor
import CAttnc
import Foundation

/// Token merging (ToMe, Bolya et al. 2023; `../shared/docs/attention-variants.md` §5.1): bipartite soft
/// matching, size-weighted merge, proportional attention and unmerge.
///
/// Dims: `B` batch, `N` tokens before merging, `r` tokens merged away, `N' = N − r`, `c` metric
/// width, `D` feature width.
///
/// Matching, per batch item: the tokens split alternately into A (even positions) and B (odd
/// positions); each metric row is L2-normalised, so `score[a, b] = m̂_a · m̂_b` is the cosine
/// similarity (an `|A| × |B|` GEMM); each A token keeps its best edge to a B token; the `r` A tokens
/// with the highest best-edge scores merge into their partners. The output holds
/// `[unmerged A ; B]`, each part in ascending original position, so a class token at position 0
/// stays first. Merging is the size-weighted mean `x'_j = Σ_{n→j} s_n·x_n / Σ_{n→j} s_n` with
/// sizes adding; proportional attention adds `log s'_j` to the score of key `j`; unmerge copies
/// output `j` back to every position `n → j`.
public enum TokenMerge {
  /// Which tokens one batch item's merge combines.
  public struct Assignment: Sendable, Equatable {
    /// `[N]`: the output token each original position goes to (itself if kept, its B partner's
    /// output slot if merged). Unmerge gathers with it.
    public var destination: [Int]
    /// `[N']`: the original position each output token keeps (an unmerged A token or a B token).
    public var order: [Int]
    /// `[r]`: the A positions merged away, highest best-edge score first.
    public var merged: [Int]

    /// `[N']`: for each output token, the original positions it stands for, ascending.
    public var sources: [[Int]] {
      var result = [[Int]](repeating: [], count: order.count)
      for (position, slot) in destination.enumerated() { result[slot].append(position) }
      return result
    }
  }

  /// The result of `match`: one assignment per batch item, all merging the same `r`.
  public struct Matching: Sendable, Equatable {
    /// `N`, tokens before merging.
    public var tokens: Int
    /// `r` after clamping: tokens merged away per batch item.
    public var merged: Int
    /// `[B]`.
    public var items: [Assignment]

    /// `N' = N − r`.
    public var outputTokens: Int { tokens - merged }
    public var batch: Int { items.count }
  }

  /// The largest `r` that may merge: the unprotected A (even) positions, or 0 when every B (odd)
  /// position is protected (nothing may be merged into).
  public static func mergeableCount(tokens: Int, protected: Set<Int>) -> Int {
    let freeA = stride(from: 0, to: tokens, by: 2).count(where: { !protected.contains($0) })
    let freeB = stride(from: 1, to: tokens, by: 2).count(where: { !protected.contains($0) })
    return freeB > 0 ? freeA : 0
  }

  /// The ToMe similarity metric: keys averaged over heads, `[B, H, N, d]` → `[B, N, d]`.
  /// - Throws: `keys` not of rank 4 or not float.
  public static func metric(keys: Tensor) throws(AttncError) -> Tensor {
    guard keys.rank == 4, keys.isFloat else {
      throw .invalid("token merge: keys must be a float [B, H, N, d] tensor, got shape \(keys.shape)")
    }
    let (batch, heads, tokens, depth) = (keys.shape[0], keys.shape[1], keys.shape[2], keys.shape[3])
    let size = tokens * depth
    var out = [Float](repeating: 0, count: batch * size)
    let weight = heads > 0 ? 1 / Float(heads) : 0
    keys.floats.withUnsafeBufferPointer { k in
      out.withUnsafeMutableBufferPointer { o in
        for b in 0..<batch {
          let target = o.baseAddress! + b * size
          for h in 0..<heads {
            let source = k.baseAddress! + (b * heads + h) * size
            for i in 0..<size { target[i] += source[i] }
          }
          for i in 0..<size { target[i] *= weight }
        }
      }
    }
    return .float(out, [batch, tokens, depth])
  }

  /// Bipartite soft matching of `metric [B, N, c]` merging `r` tokens per batch item.
  ///
  /// `r` is clamped to `mergeableCount(tokens: N, protected:)` (ToMe's `r ≤ (N − protected)/2`);
  /// an effective `r` of 0 gives the identity matching (order `0..<N`). Protected positions never
  /// merge: not as a source (their score is −∞) nor as a destination (no edge may end at them).
  /// A zero metric row normalises to zero (cosine 0 to everything).
  ///
  /// Ties are broken deterministically: an A token's best partner is the lowest B position among
  /// equal scores; among equal best-edge scores the lower A position merges first.
  /// - Throws: `metric` not a float rank-3 tensor, a non-finite metric value, `r < 0`, or a
  ///   protected position outside `0..<N`.
  /// - Complexity: `O(B·(N²·c/4 + N log N))`, the score product through `gemm`.
  public static func match(metric: Tensor, r: Int, protected: Set<Int> = []) throws(AttncError) -> Matching {
    guard metric.rank == 3, metric.isFloat, metric.shape[2] > 0 else {
      throw .invalid("token merge: metric must be a float [B, N, c] tensor with c > 0, got shape \(metric.shape)")
    }
    guard r >= 0 else { throw .invalid("token merge: r must be non-negative, got \(r)") }
    let (batch, tokens, width) = (metric.shape[0], metric.shape[1], metric.shape[2])
    if let bad = protected.first(where: { $0 < 0 || $0 >= tokens }) {
      throw .invalid("token merge: protected position \(bad) is out of range for \(tokens) tokens")
    }
    guard metric.floats.allSatisfy({ $0.isFinite }) else {
      throw .invalid("token merge: metric holds a non-finite value")
    }
    let merged = min(r, mergeableCount(tokens: tokens, protected: protected))
    guard merged > 0 else {
      let identity = Assignment(destination: Array(0..<tokens), order: Array(0..<tokens), merged: [])
      return Matching(tokens: tokens, merged: 0, items: Array(repeating: identity, count: batch))
    }
    let items = (0..<batch).map { b in
      let rows = metric.floats[(b * tokens * width)..<((b + 1) * tokens * width)]
      return assignment(rows: Array(rows), tokens: tokens, width: width, merged: merged, protected: protected)
    }
    return Matching(tokens: tokens, merged: merged, items: items)
  }

  /// One batch item's matching; `merged ≥ 1` and at most the mergeable count.
  static func assignment(
    rows: [Float], tokens: Int, width: Int, merged: Int, protected: Set<Int>
  ) -> Assignment {
    let countA = (tokens + 1) / 2, countB = tokens / 2
    var normalized = rows
    for n in 0..<tokens {
      var squares: Float = 0
      for i in 0..<width { squares += rows[n * width + i] * rows[n * width + i] }
      let inverse = squares > 0 ? 1 / squares.squareRoot() : 0
      for i in 0..<width { normalized[n * width + i] *= inverse }
    }
    // Even rows are A, odd rows B: gather each set contiguously for the GEMM.
    var setA = [Float](repeating: 0, count: countA * width)
    var setB = [Float](repeating: 0, count: countB * width)
    normalized.withUnsafeBufferPointer { source in
      setA.withUnsafeMutableBufferPointer { a in
        setB.withUnsafeMutableBufferPointer { bp in
          for n in 0..<tokens {
            let target = n % 2 == 0 ? a.baseAddress! + (n / 2) * width : bp.baseAddress! + (n / 2) * width
            target.update(from: source.baseAddress! + n * width, count: width)
          }
        }
      }
    }
    // Each unprotected A row's best open B column (ties: the lowest). The scores are computed a
    // block of A rows at a time (a GEMM into a cache-sized tile) and scanned while hot, so the
    // |A|×|B| matrix never exists. Protected B columns get −∞ before the scan, so it is one
    // branch-light pass per row (scores are cosines in [−1, 1]).
    let closedB = (0..<countB).filter { protected.contains(2 * $0 + 1) }
    var best = [Float](repeating: -.infinity, count: countA)
    var partner = [Int](repeating: -1, count: countA)
    let blockRows = max(1, min(countA, (1 << 16) / max(1, countB)))
    let blocks = (countA + blockRows - 1) / blockRows
    setA.withUnsafeBufferPointer { a in
      setB.withUnsafeBufferPointer { bp in
        best.withUnsafeMutableBufferPointer { bestOut in
          partner.withUnsafeMutableBufferPointer { partnerOut in
            let (a, bp, bestOut, partnerOut) = (a, bp, bestOut, partnerOut)
            // Blocks of A rows in parallel, each thread with its own score tile.
            Parallel.chunks(blocks, minimumPerChunk: 2) { range in
              var tile = [Float](repeating: 0, count: blockRows * countB)
              tile.withUnsafeMutableBufferPointer { t in
                for block in range {
                  let first = block * blockRows, rows = min(blockRows, countA - first)
                  gemm(m: rows, n: countB, k: width, a.baseAddress! + first * width, bp.baseAddress!, transposeB: true, into: t.baseAddress!)
                  for r in 0..<rows where !protected.contains(2 * (first + r)) {
                    let row = t.baseAddress! + r * countB
                    for b in closedB { row[b] = -.infinity }
                    (bestOut[first + r], partnerOut[first + r]) = firstMaximum(row, countB)
                  }
                }
              }
            }
          }
        }
      }
    }
    let ranked = (0..<countA).sorted { best[$0] != best[$1] ? best[$0] > best[$1] : $0 < $1 }
    let sourcesA = Array(ranked.prefix(merged))
    let isSource = Set(sourcesA)
    // Output slots: unmerged A ascending, then B ascending.
    var order: [Int] = []
    order.reserveCapacity(tokens - merged)
    var destination = [Int](repeating: -1, count: tokens)
    for a in 0..<countA where !isSource.contains(a) {
      destination[2 * a] = order.count
      order.append(2 * a)
    }
    for b in 0..<countB {
      destination[2 * b + 1] = order.count
      order.append(2 * b + 1)
    }
    for a in sourcesA { destination[2 * a] = destination[2 * partner[a] + 1] }
    return Assignment(destination: destination, order: order, merged: sourcesA.map { 2 * $0 })
  }

  /// The largest of `count > 0` values and the first index holding it: the vectorised row
  /// maximum, then a scan for its first occurrence.
  @inline(__always) static func firstMaximum(_ values: UnsafePointer<Float>, _ count: Int) -> (Float, Int) {
    let top = attnc_row_max(values, count)
    var at = 0
    while at < count - 1 && values[at] != top { at += 1 }
    return (top, at)
  }

  /// Size-weighted merge: `x [B, N, D]`, `sizes [B, N]` → `(x' [B, N', D], sizes' [B, N'])` with
  /// `x'_j = Σ_{n→j} s_n·x_n / Σ_{n→j} s_n` and `s'_j = Σ_{n→j} s_n`. An output token with a
  /// single source is copied exactly, so `r = 0` returns `x` and `sizes` unchanged.
  /// A size may be 0 (a padding token carried through, never merged): a token that merges with
  /// nothing is copied whatever its size.
  /// - Throws: `x` not float `[B, N, D]` or `sizes` not `[B, N]` for the matching's `B` and `N`; a
  ///   size that is negative or not finite, or a merged group whose sizes sum to 0.
  /// - Complexity: `O(B·N·D)`.
  public static func merge(
    x: Tensor, sizes: Tensor, matching: Matching
  ) throws(AttncError) -> (x: Tensor, sizes: Tensor) {
    let (batch, tokens) = (matching.batch, matching.tokens)
    guard x.rank == 3, x.isFloat, x.shape[0] == batch, x.shape[1] == tokens else {
      throw .invalid("token merge: x must be a float [\(batch), \(tokens), D] tensor, got shape \(x.shape)")
    }
    guard sizes.isFloat, sizes.shape == [batch, tokens] else {
      throw .invalid("token merge: sizes must be a float [\(batch), \(tokens)] tensor, got shape \(sizes.shape)")
    }
    guard sizes.floats.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
      throw .invalid("token merge: sizes must be non-negative and finite")
    }
    let width = x.shape[2], outputs = matching.outputTokens
    var out = [Float](repeating: 0, count: batch * outputs * width)
    var outSizes = [Float](repeating: 0, count: batch * outputs)
    for (b, item) in matching.items.enumerated() {
      let inRow = b * tokens, outRow = b * outputs
      var count = [Int](repeating: 0, count: outputs)
      for n in 0..<tokens {
        outSizes[outRow + item.destination[n]] += sizes.floats[inRow + n]
        count[item.destination[n]] += 1
      }
      for n in 0..<tokens {
        let j = item.destination[n]
        let source = (inRow + n) * width, target = (outRow + j) * width
        if count[j] == 1 {
          for i in 0..<width { out[target + i] = x.floats[source + i] }
        } else {
          guard outSizes[outRow + j] > 0 else { throw .invalid("token merge: tokens of total size 0 were merged") }
          let weight = sizes.floats[inRow + n] / outSizes[outRow + j]
          for i in 0..<width { out[target + i] += weight * x.floats[source + i] }
        }
      }
    }
    let merged = Tensor.float(out, [batch, outputs, width], dtype: x.dtype)
    return (merged, Tensor.float(outSizes, [batch, outputs], dtype: sizes.dtype))
  }

  /// Unmerge: `y [B, N', D]` → `[B, N, D]` with row `n` a copy of `y[destination[n]]`.
  /// - Throws: `y` not float `[B, N', D]` for the matching's `B` and `N'`.
  /// - Complexity: `O(B·N·D)`.
  public static func unmerge(y: Tensor, matching: Matching) throws(AttncError) -> Tensor {
    let (batch, tokens, outputs) = (matching.batch, matching.tokens, matching.outputTokens)
    guard y.rank == 3, y.isFloat, y.shape[0] == batch, y.shape[1] == outputs else {
      throw .invalid("token unmerge: y must be a float [\(batch), \(outputs), D] tensor, got shape \(y.shape)")
    }
    let width = y.shape[2]
    var out = [Float](repeating: 0, count: batch * tokens * width)
    for (b, item) in matching.items.enumerated() {
      for n in 0..<tokens {
        let source = (b * outputs + item.destination[n]) * width, target = (b * tokens + n) * width
        for i in 0..<width { out[target + i] = y.floats[source + i] }
      }
    }
    return .float(out, [batch, tokens, width], dtype: y.dtype)
  }

  /// Proportional attention's additive score bias: `sizes [B, N']` → `[B, 1, 1, N']` holding
  /// `log s_j` (broadcast over heads and queries; 0 for an unmerged token).
  /// - Throws: `sizes` not a float rank-2 tensor; a size that is not positive and finite.
  public static func proportionalBias(sizes: Tensor) throws(AttncError) -> Tensor {
    guard sizes.rank == 2, sizes.isFloat else {
      throw .invalid("token merge: sizes must be a float [B, N] tensor, got shape \(sizes.shape)")
    }
    guard sizes.floats.allSatisfy({ $0 > 0 && $0.isFinite }) else {
      throw .invalid("token merge: sizes must be positive and finite")
    }
    return .float(sizes.floats.map { log($0) }, [sizes.shape[0], 1, 1, sizes.shape[1]])
  }
}
