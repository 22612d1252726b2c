import AttncTensor
import Foundation

/// Which key blocks block-sparse attention visits (`blocksparse:tau=τ,block=B`), estimated from
/// mean-pooled blocks (SpargeAttn's estimate) or, with `stride` S, from antidiagonal sums of
/// S × S tiles (XAttention's; `Estimate.antidiagonal`).
///
/// Per (batch, query head) the queries and keys are cut into blocks of `B` rows and each block
/// averaged: `q̄_I`, `k̄_J`. The estimated share of query block `I`'s attention that key block `J`
/// holds is `softmax_J(scale·q̄_I·k̄_J + log m_J)`, `m_J` the block's key mass (its key count, or
/// `Σ e^{term_j}` under key padding or per-key weights), over the key blocks query block `I` can
/// see (causal). Key blocks are kept in descending estimated share until the kept shares reach
/// `τ`; the first key block and the blocks on the query block's diagonal are always kept. With
/// `similarity > 0`, a block whose rows are not alike (mean pairwise cosine similarity of its
/// rows below it: the mean is then a poor summary) is always kept, as a key block, and as a query
/// block it keeps every key block. `τ ≥ 1` keeps every block (exact attention); heads of
/// `denseHeads` keep every block (the policy's per-head fallback).
public struct BlockSelection: Sendable, Equatable {
  public var tau: Double
  /// Queries and keys per block (rounded up to the kernel's panel width, 32).
  public var block: Int
  public var similarity: Double = 0
  /// Bit `h`: query head `h` stays dense.
  public var denseHeads: UInt64 = 0
  /// 0: mean-pooled estimate; `S > 0`: XAttention's antidiagonal estimate at stride `S`.
  public var stride = 0

  public init(tau: Double, block: Int, similarity: Double = 0, denseHeads: UInt64 = 0, stride: Int = 0) {
    (self.tau, self.block, self.similarity, self.denseHeads, self.stride) = (tau, block, similarity, denseHeads, stride)
  }

  func rounded(toPanel panel: Int) -> BlockSelection {
    var result = self
    result.block = (max(1, block) + panel - 1) / panel * panel
    return result
  }

  func isDense(head: Int) -> Bool { tau >= 1 || (head < 64 && denseHeads & (1 << UInt64(head)) != 0) }

  /// Per (batch, query head, query block), one byte per key block: 1 where it is visited.
  func keptBlocks(
    q: Tensor, k: Tensor, term: TiledAttention.AdditiveTerm?, geometry g: TiledAttention.Geometry,
    options: TiledAttention.Options
  ) throws -> [UInt8] {
    let (queryBlocks, keyBlocks) = ((g.queries + block - 1) / block, (g.keys + block - 1) / block)
    let perHead = queryBlocks * keyBlocks
    var kept = [UInt8](repeating: 1, count: g.batch * g.heads * perHead)
    guard tau < 1 else { return kept }
    // A key mass per key from a per-key term (key padding, per-key weights); else each key counts 1.
    let perKeyTerm = term.flatMap { $0.strides.query == 0 && $0.strides.head == 0 && $0.strides.key == 1 ? $0 : nil }
    let termValues = perKeyTerm?.values ?? []
    q.floats.withUnsafeBufferPointer { qp in
      k.floats.withUnsafeBufferPointer { kp in
        termValues.withUnsafeBufferPointer { tp in
          kept.withUnsafeMutableBufferPointer { out in
            let (qBase, kBase, outBase) = (qp.baseAddress!, kp.baseAddress!, out.baseAddress!)
            Parallel.chunks(g.batch * g.heads) { range in
              for item in range {
                let (b, head) = (item / g.heads, item % g.heads)
                guard !isDense(head: head) else { continue }
                let kvHead = head / (g.heads / g.kvHeads)
                let masses: [Float]? = perKeyTerm.map { t in
                  (0..<g.keys).map { j in Float(Foundation.exp(Double(tp[t.offset(batch: b, head: 0, query: 0) + j]))) }
                }
                selectHead(
                  q: qBase + (b * g.heads + head) * g.queries * g.depth, k: kBase + (b * g.kvHeads + kvHead) * g.keys * g.depth,
                  masses: masses, geometry: g, options: options, into: outBase + item * perHead)
              }
            }
          }
        }
      }
    }
    return kept
  }

  /// The rows of `x [count, depth]` averaged per block of `block` rows, and, when
  /// `similarities`, each block's mean pairwise cosine similarity `‖Σ x̂‖² / n²` (x̂ = x/‖x‖;
  /// else the list is empty: only `similarity > 0` reads it).
  func pool(_ x: UnsafePointer<Float>, count: Int, depth: Int, similarities: Bool) -> (means: [Float], similarities: [Double]) {
    let blocks = (count + block - 1) / block
    var means = [Float](repeating: 0, count: blocks * depth)
    var alike = [Double](repeating: 1, count: similarities ? blocks : 0)
    var unit = [Double](repeating: 0, count: similarities ? depth : 0)
    for index in 0..<blocks {
      let rows = (index * block)..<min(count, (index + 1) * block)
      means.withUnsafeMutableBufferPointer { m in
        let mean = m.baseAddress! + index * depth
        for r in rows {
          for t in 0..<depth { mean[t] += x[r * depth + t] }
        }
        for t in 0..<depth { mean[t] /= Float(rows.count) }
      }
      guard similarities else { continue }
      for t in 0..<depth { unit[t] = 0 }
      for r in rows {
        var norm = 0.0
        for t in 0..<depth { norm += Double(x[r * depth + t]) * Double(x[r * depth + t]) }
        let inverse = norm > 0 ? 1 / norm.squareRoot() : 0
        for t in 0..<depth { unit[t] += Double(x[r * depth + t]) * inverse }
      }
      alike[index] = unit.reduce(0) { $0 + $1 * $1 } / Double(rows.count * rows.count)
    }
    return (means, alike)
  }

  /// One head's kept blocks into `out [queryBlocks, keyBlocks]` (entries left 1 are visited).
  func selectHead(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, masses: [Float]?, geometry g: TiledAttention.Geometry,
    options: TiledAttention.Options, into out: UnsafeMutablePointer<UInt8>
  ) {
    let (queryBlocks, keyBlocks) = ((g.queries + block - 1) / block, (g.keys + block - 1) / block)
    // The means feed the pooled estimate, the similarities only `similarity > 0`.
    let alike = similarity > 0
    let unused: (means: [Float], similarities: [Double]) = ([], [])
    let needed = stride == 0 || alike
    let queries = needed ? pool(q, count: g.queries, depth: g.depth, similarities: alike) : unused
    let keys = needed ? pool(k, count: g.keys, depth: g.depth, similarities: alike) : unused
    let diagonal = g.keys - g.queries
    let estimate = stride > 0
      ? Estimate.antidiagonal(q, k, masses: masses, selection: self, geometry: g, options: options)
      : Estimate.pooled(queries.means, keys.means, masses: masses, selection: self, geometry: g, options: options)
    for i in 0..<queryBlocks {
      let row = out + i * keyBlocks
      let (first, last) = (i * block, min(g.queries, (i + 1) * block) - 1)
      // Key blocks the query block can see: all, or up to its last row's diagonal.
      let visible = !options.causal ? keyBlocks : last + diagonal < 0 ? 0 : min(keyBlocks, (last + diagonal) / block + 1)
      guard visible > 0, similarity <= 0 || queries.similarities[i] >= similarity else { continue }
      for j in 0..<keyBlocks { row[j] = 0 }
      let shares = estimate(i, visible)
      let total = shares.reduce(0, +)
      var mass = 0.0
      for j in (0..<visible).sorted(by: { shares[$0] > shares[$1] }) {
        guard total > 0, mass < tau * total else { break }
        row[j] = 1
        mass += shares[j]
      }
      row[0] = 1
      // The diagonal's key blocks (keys first + L − S ... last + L − S).
      let (low, high) = (max(0, first + diagonal), min(g.keys - 1, last + diagonal))
      if low <= high { for j in (low / block)...(high / block) { row[j] = 1 } }
      if similarity > 0 { for j in 0..<visible where keys.similarities[j] < similarity { row[j] = 1 } }
    }
  }

  /// The estimated shares of key blocks `0..<visible` in query block `i`'s attention (any
  /// positive scale: they are compared with `τ` times their sum).
  typealias Shares = (_ queryBlock: Int, _ visible: Int) -> [Double]

  enum Estimate {
    /// `softmax_J(scale·q̄_I·k̄_J + log m_J)` from the block means.
    static func pooled(
      _ queryMeans: [Float], _ keyMeans: [Float], masses: [Float]?, selection: BlockSelection, geometry g: TiledAttention.Geometry,
      options: TiledAttention.Options
    ) -> Shares {
      let block = selection.block
      let logMass: [Double] = (0..<((g.keys + block - 1) / block)).map { j in
        let range = (j * block)..<min(g.keys, (j + 1) * block)
        guard let masses else { return Foundation.log(Double(range.count)) }
        return Foundation.log(range.reduce(0.0) { $0 + Double(masses[$1]) })
      }
      return { i, visible in
        let scores = (0..<visible).map { j -> Double in
          var s = 0.0
          for t in 0..<g.depth { s += Double(queryMeans[i * g.depth + t]) * Double(keyMeans[j * g.depth + t]) }
          return softcapped(s * Double(options.scale), options) + logMass[j]
        }
        return normalised(scores)
      }
    }

    /// XAttention's antidiagonal scoring: query rows and keys in groups of `stride`; group `a` of
    /// the queries scores group `b` of the keys with the antidiagonal sum
    /// `Σ_t q_{a·S + S − 1 − t}·k_{b·S + t}` (scaled by `scale / S`, plus the log of the group's
    /// mean key mass), a softmax over the key groups the query group may see gives each query
    /// group's attention at stride resolution, summed per key block and over the query block's
    /// groups.
    static func antidiagonal(
      _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, masses: [Float]?, selection: BlockSelection,
      geometry g: TiledAttention.Geometry, options: TiledAttention.Options
    ) -> Shares {
      let (block, stride) = (selection.block, max(1, min(selection.stride, selection.block)))
      let keyGroups = (g.keys + stride - 1) / stride
      let logMass: [Double] = (0..<keyGroups).map { b in
        let range = (b * stride)..<min(g.keys, (b + 1) * stride)
        guard let masses else { return 0 }
        return Foundation.log(range.reduce(0.0) { $0 + Double(masses[$1]) } / Double(range.count))
      }
      let diagonal = g.keys - g.queries
      return { i, visible in
        var shares = [Double](repeating: 0, count: visible)
        let rows = (i * block)..<min(g.queries, (i + 1) * block)
        var scores = [Double](repeating: 0, count: keyGroups)
        for groupStart in Swift.stride(from: rows.lowerBound, to: rows.upperBound, by: stride) {
          let groupEnd = min(rows.upperBound, groupStart + stride)
          // Key groups of the visible blocks, up to the query group's last diagonal (causal).
          var limit = min(g.keys, visible * block)
          if options.causal { limit = min(limit, groupEnd + diagonal) }
          guard limit > 0 else { continue }
          let groups = (limit + stride - 1) / stride
          var top = -Double.infinity
          for b in 0..<groups {
            var sum = 0.0
            for t in 0..<stride {
              let (row, key) = (groupStart + stride - 1 - t, b * stride + t)
              guard row < groupEnd, key < g.keys else { continue }
              for e in 0..<g.depth { sum += Double(q[row * g.depth + e]) * Double(k[key * g.depth + e]) }
            }
            scores[b] = softcapped(sum * Double(options.scale) / Double(stride), options) + logMass[b]
            top = max(top, scores[b])
          }
          guard top > -.infinity else { continue }
          var total = 0.0
          for b in 0..<groups { total += Foundation.exp(scores[b] - top) }
          for b in 0..<groups { shares[min(visible - 1, b * stride / block)] += Foundation.exp(scores[b] - top) / total }
        }
        return shares
      }
    }

    static func softcapped(_ s: Double, _ options: TiledAttention.Options) -> Double {
      options.softcap > 0 ? Double(options.softcap) * tanh(s / Double(options.softcap)) : s
    }

    /// `exp(x − max)` of scores (zeros when all are −inf).
    static func normalised(_ scores: [Double]) -> [Double] {
      let top = scores.max() ?? -.infinity
      return scores.map { top == -.infinity ? 0 : Foundation.exp($0 - top) }
    }
  }
}

/// Visible (query, key) pairs a tiled attention scored and attended, skipped (skip-softmax) and
/// left out (block-sparse), per query head, summed over the calls made while it is
/// `TileCounts.current` (`measure`): the density a sparse setting reached on given inputs.
public final class TileCounts: @unchecked Sendable {
  private let lock = NSLock()
  /// Per query head.
  public private(set) var attended: [Int] = [], skipped: [Int] = [], dropped: [Int] = []

  public init() {}

  @TaskLocal static var current: TileCounts?

  /// Runs `body` with the tiled attention calls it makes (on this thread) counted into this.
  public func measure<R>(_ body: () throws -> R) rethrows -> R { try Self.$current.withValue(self, operation: body) }

  /// The share of visible pairs attended per query head (1 where none were counted).
  public var densities: [Double] {
    attended.indices.map { h in
      let total = attended[h] + skipped[h] + dropped[h]
      return total > 0 ? Double(attended[h]) / Double(total) : 1
    }
  }

  /// The share of visible pairs attended over all heads.
  public var density: Double {
    let total = attended.reduce(0, +) + skipped.reduce(0, +) + dropped.reduce(0, +)
    return total > 0 ? Double(attended.reduce(0, +)) / Double(total) : 1
  }

  /// Adds a call's counters: three per (batch, query head, query block).
  func add(_ counts: [Int], heads: Int, blocksPerHead: Int) {
    lock.lock()
    defer { lock.unlock() }
    if attended.count < heads {
      let more = [Int](repeating: 0, count: heads - attended.count)
      (attended, skipped, dropped) = (attended + more, skipped + more, dropped + more)
    }
    for item in 0..<(counts.count / 3) {
      let head = (item / blocksPerHead) % heads
      attended[head] += counts[3 * item]
      skipped[head] += counts[3 * item + 1]
      dropped[head] += counts[3 * item + 2]
    }
  }
}
