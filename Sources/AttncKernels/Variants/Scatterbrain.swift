import CAttnc
import Foundation

/// `scatterbrain` (Chen et al. 2021): sparse + low-rank. With FAVOR+ features `φ` (`m`, may be 0)
/// and a sparse support `S` (a local window of `w`, and/or LSH buckets of `b` over `hashes`
/// rounds), `Â = φ(Q)φ(K)ᵀ + R` where `R_ij = exp(q_i·k_j) − φ(q_i)·φ(k_j)` on `S` and 0 elsewhere:
/// exact on the support, Performer's unbiased estimate off it; `o_i = (Â·V)_i / (Â·1)_i`.
/// Causal: prefix sums for the low-rank part, keys after the query's diagonal left out of the
/// support. Masked (padding) keys are left out of both.
///
/// Per-key weights: `o_i = Σ_j w_j·Â_ij·v_j / Σ_j w_j·Â_ij` — the low-rank part weighs each
/// key's feature row by `w_j` (as Performer does) and the exact correction on the support by
/// `w_j`, so every pair still gets `w_j·exp(q_i·k_j)` on the support and `w_j·φ(q_i)·φ(k_j)` off
/// it. Keys weighing 0 are left out of the support (and of the LSH clusters), as padding is.
/// The support itself (window by position, LSH clusters of `b` keys) does not depend on the
/// weights, so key `j` repeated `w_j` times does not give the same result.
///
/// Support (attention-variants.md §4.2): window `|j − (i + L − S)| ≤ w/2`; LSH as in SMYRF:
/// the XBOX+ transform `q̃ = [q, 0, √(M − |q|²)]`, `k̃ = [k, √(M − |k|²), 0]` (`M` = largest
/// `|q|²` + largest `|k|²`), one Gaussian projection per round, queries and keys sorted by it
/// and cut into clusters of `b` (query cluster c meets key cluster c); a pair found by several
/// rounds or by the window counts once (the union).
extension AttentionVariantDefinition {
  public static let scatterbrain = AttentionVariantDefinition(
    name: "scatterbrain",
    summary: "sparse (local window w, LSH buckets b×hashes) + FAVOR+ low rank (m, may be 0), exact on the support",
    parameters: [
      Scatterbrain.window, Scatterbrain.features, Scatterbrain.bucket, Scatterbrain.hashes,
      .seed(help: "seed of the features and hash projections"),
    ],
    supportsCausal: true,
    cost: { s, p in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      let m = p.int(Scatterbrain.features), w = p.int(Scatterbrain.window), b = p.int(Scatterbrain.bucket)
      let hashes = Double(p.int(Scatterbrain.hashes))
      var support = w > 0 ? Double(min(w / 2 * 2 + 1, s.keys)) : 0
      if s.causal { support = (support + 1) / 2 }
      if b > 0 { support += hashes * Double(min(b, s.keys)) * (s.causal ? 0.5 : 1) }
      var cost =
        m > 0
        ? KernelizedCost.of(s, features: m, featureFLOPsPerInput: 2 * d + 2, exponentials: true)
        : AttentionCost(flops: 0, exponentials: 0, bytes: AttentionCost.operandBytes(s), extraMemoryBytes: 0)
      cost.flops += n * support * (2 * d + 2 * Double(m) + 4 * dv + 4)
      cost.exponentials += n * support
      if b > 0 { cost.flops += hashes * (n + nk) * (2 * (d + 2) + Foundation.log2(max(2, n + nk))) }
      cost.bytes += 4 * n * support * (d + dv + Double(m))
      cost.extraMemoryBytes += 4 * ((n + nk) * Double(m) + n * support) + (b > 0 ? 8 * hashes * (n + nk) : 0)
      return cost
    },
    kernel: { head, p in
      Scatterbrain.run(
        head, window: p.int(Scatterbrain.window), features: p.int(Scatterbrain.features), bucket: p.int(Scatterbrain.bucket),
        hashes: p.int(Scatterbrain.hashes))
    },
    onnxRefusal: "its sparse support is data-dependent (LSH buckets sorted from each head's queries and keys, block-sparse around the window)")
}

enum Scatterbrain {
  static let window = AttentionVariantDefinition.Parameter(
    "w", default: 64, 0...65536, help: "local window: keys with |i−j| ≤ w/2 (0 = none)")
  static let features = AttentionVariantDefinition.Parameter(
    "m", default: 64, 0...8192, help: "random features of the low-rank part (0 = sparse only)")
  static let bucket = AttentionVariantDefinition.Parameter("b", default: 0, 0...65536, help: "LSH bucket size (0 = no LSH)")
  static let hashes = AttentionVariantDefinition.Parameter("hashes", default: 2, 1...16, help: "LSH rounds")

  /// One `N(0, I)` direction per LSH round, drawn from the head's seed.
  static func hashDirections(seed: UInt64, rounds: Int, width: Int) -> [[Float]] {
    var gaussian = GaussianStream(seed: seed ^ 0x5CA7_7E4B_5A17)
    return (0..<rounds).map { _ in (0..<width).map { _ in Float(gaussian.next()) } }
  }

  static func run(_ head: AttentionHead, window: Int, features m: Int, bucket: Int, hashes: Int) {
    let (n, nk, d, dv) = (head.queries, head.keys, head.depth, head.valueDepth)
    let q = head.scaledQueries()
    var support = Support(head, q: q, window: window, bucket: bucket, hashes: hashes)
    // Low-rank part: features of every query (row scale cq_i) and key (one global scale c),
    // summed by the kernelized skeleton on the stored features; sums in units of e^{cq_i + c}.
    var queryFeatures = [Float](), keyFeatures = [Float](), queryScales = [Float](repeating: 0, count: n)
    var lowRank = KernelizedAttention.Sums(numerator: [], denominator: [], logScales: [])
    var keyScale: Float = 0
    if m > 0 {
      let map = PositiveRandomFeatures(features: m, depth: d, seed: head.seed)
      queryFeatures = [Float](repeating: 0, count: n * m)
      keyFeatures = [Float](repeating: 0, count: nk * m)
      q.withUnsafeBufferPointer { qp in
        queryFeatures.withUnsafeMutableBufferPointer { qf in
          queryScales.withUnsafeMutableBufferPointer { map.queries(qp.baseAddress!, rows: n, into: qf.baseAddress!, logScales: $0.baseAddress!) }
        }
      }
      keyFeatures.withUnsafeMutableBufferPointer { kf in
        map.logFeatures(head.k, rows: nk, into: kf.baseAddress!)
        keyScale = -.infinity
        for j in 0..<nk where head.weight(j) != 0 {
          keyScale = max(keyScale, attnc_row_max(kf.baseAddress! + j * m, m))
        }
        if keyScale == -.infinity { keyScale = 0 }
        _ = attnc_exp_shift_sum(kf.baseAddress!, nk * m, keyScale)
      }
      queryFeatures.withUnsafeBufferPointer { qf in
        keyFeatures.withUnsafeBufferPointer { kf in
          lowRank = KernelizedAttention.sums(
            map: StoredFeatures(count: m), q: qf.baseAddress!, queries: n, depth: m, k: kf.baseAddress!, v: head.v, keys: nk,
            valueDepth: dv, weights: head.keyWeights, causalOffset: head.causalOffset)
        }
      }
    }
    if bucket == 0 && window > 0 {
      windowTiles(
        head, q: q, half: window / 2, features: m, queryFeatures: queryFeatures, keyFeatures: keyFeatures,
        queryScales: queryScales, keyScale: keyScale, lowRank: lowRank)
      return
    }
    var numerator = [Float](repeating: 0, count: dv)
    var logits = [Float](), products = [Float]()
    q.withUnsafeBufferPointer { qp in
    for i in 0..<n {
      let keys = support.keys(of: i)
      let qi = qp.baseAddress! + i * d
      logits.removeAll(keepingCapacity: true)
      products.removeAll(keepingCapacity: true)
      var top = -Float.infinity
      for j in keys {
        let e = VectorMath.dot(qi, head.k + j * d, count: d)
        logits.append(e)
        top = max(top, e)
      }
      let lowScale = m > 0 ? queryScales[i] + keyScale : -Float.infinity
      let rowScale = max(top, lowScale)
      guard rowScale > -.infinity else { continue }  // nothing visible: y stays 0
      // e^{(cq_i + c) − C_i}: the low-rank sums' unit in this row's.
      let alpha = m > 0 ? VectorMath.exp(lowScale - rowScale) : 0
      var denominator: Float = 0
      for c in 0..<dv { numerator[c] = 0 }
      numerator.withUnsafeMutableBufferPointer { num in
        if m > 0 {
          for c in 0..<dv { num[c] = alpha * lowRank.numerator[i * dv + c] }
          denominator = alpha * lowRank.denominator[i]
        }
        queryFeatures.withUnsafeBufferPointer { qf in
          keyFeatures.withUnsafeBufferPointer { kf in
            for (index, j) in keys.enumerated() {
              var weight = VectorMath.exp(logits[index] - rowScale)
              if m > 0 {
                weight -= alpha * VectorMath.dot(qf.baseAddress! + i * m, kf.baseAddress! + j * m, count: m)
              }
              weight *= head.weight(j)
              denominator += weight
              VectorMath.addScaled(weight, head.v + j * dv, to: num.baseAddress!, count: dv)
            }
          }
        }
        let inverse: Float = denominator > 0 ? 1 / denominator : 0
        for c in 0..<dv { head.y[i * dv + c] = num[c] * inverse }
      }
    }
    }
  }

  /// The same computation when the support is the window alone, as GEMMs over blocks of 64
  /// queries: the block's windows span one contiguous key range, whose logits `q·kᵀ` and
  /// feature products `φ(q)·φ(k)ᵀ` are two GEMMs; each row keeps its window (causal cut and
  /// padding applied), weighs it `e^{q·k − C_i} − α_i·φ(q)·φ(k)` and a third GEMM adds `W·V`.
  static func windowTiles(
    _ head: AttentionHead, q: [Float], half: Int, features m: Int, queryFeatures: [Float], keyFeatures: [Float],
    queryScales: [Float], keyScale: Float, lowRank: KernelizedAttention.Sums
  ) {
    let (n, nk, d, dv) = (head.queries, head.keys, head.depth, head.valueDepth)
    let block = 64, offset = nk - n
    var logits = [Float](repeating: 0, count: block * (block + 2 * half + 1))
    var products = [Float](repeating: 0, count: m > 0 ? logits.count : 0)
    var numerators = [Float](repeating: 0, count: block * dv)
    var denominators = [Float](repeating: 0, count: block)
    q.withUnsafeBufferPointer { qp in
      queryFeatures.withUnsafeBufferPointer { qf in
        keyFeatures.withUnsafeBufferPointer { kf in
          var start = 0
          while start < n {
            let rows = min(block, n - start)
            // Keys some row of the block may see: the union of the windows, cut by causality.
            let low = max(0, start + offset - half)
            let high = min(head.visibleKeys(start + rows - 1), start + rows - 1 + offset + half + 1)
            let columns = max(0, high - low)
            logits.withUnsafeMutableBufferPointer { e in
              products.withUnsafeMutableBufferPointer { p in
                numerators.withUnsafeMutableBufferPointer { num in
                  if columns > 0 {
                    gemm(m: rows, n: columns, k: d, qp.baseAddress! + start * d, head.k + low * d, transposeB: true, into: e.baseAddress!)
                    if m > 0 {
                      gemm(m: rows, n: columns, k: m, qf.baseAddress! + start * m, kf.baseAddress! + low * m, transposeB: true, into: p.baseAddress!)
                    }
                  }
                  for r in 0..<rows {
                    let i = start + r
                    let first = max(low, i + offset - half), last = min(high, head.visibleKeys(i), i + offset + half + 1)
                    let row = e.baseAddress! + r * columns
                    var top = -Float.infinity
                    if first < last {
                      for j in first..<last where head.weight(j) != 0 { top = max(top, row[j - low]) }
                    }
                    let lowScale = m > 0 ? queryScales[i] + keyScale : -Float.infinity
                    let rowScale = max(top, lowScale)
                    let target = num.baseAddress! + r * dv
                    guard rowScale > -.infinity else {
                      for c in 0..<columns { row[c] = 0 }
                      for c in 0..<dv { target[c] = 0 }
                      denominators[r] = 0
                      continue
                    }
                    let alpha = m > 0 ? VectorMath.exp(lowScale - rowScale) : 0
                    var sum: Float = m > 0 ? alpha * lowRank.denominator[i] : 0
                    for c in 0..<dv { target[c] = m > 0 ? alpha * lowRank.numerator[i * dv + c] : 0 }
                    for c in 0..<columns {
                      let j = low + c
                      guard j >= first, j < last, head.weight(j) != 0 else {
                        row[c] = 0
                        continue
                      }
                      var weight = VectorMath.exp(row[c] - rowScale)
                      if m > 0 { weight -= alpha * p[r * columns + c] }
                      weight *= head.weight(j)
                      row[c] = weight
                      sum += weight
                    }
                    denominators[r] = sum
                  }
                  if columns > 0 {
                    gemm(m: rows, n: dv, k: columns, e.baseAddress!, head.v + low * dv, beta: 1, into: num.baseAddress!)
                  }
                  for r in 0..<rows {
                    let inverse: Float = denominators[r] > 0 ? 1 / denominators[r] : 0
                    for c in 0..<dv { head.y[(start + r) * dv + c] = num[r * dv + c] * inverse }
                  }
                }
              }
            }
            start += rows
          }
        }
      }
    }
  }

  /// Which keys each query meets exactly: the window and the LSH buckets, de-duplicated, causal
  /// and padding applied.
  struct Support {
    let head: AttentionHead
    let half: Int
    let window: Bool
    /// Per round: each query's cluster, and the keys of each cluster.
    var queryClusters: [[Int]] = []
    var clusterKeys: [[[Int]]] = []
    /// Stamp per key for de-duplication.
    private var stamp: [Int]

    init(_ head: AttentionHead, q: [Float], window: Int, bucket: Int, hashes: Int) {
      self.head = head
      self.window = window > 0
      half = window / 2
      stamp = [Int](repeating: -1, count: head.keys)
      guard bucket > 0 else { return }
      let (n, nk, d) = (head.queries, head.keys, head.depth)
      var largestQ: Float = 0, largestK: Float = 0
      var normsQ = [Float](repeating: 0, count: n), normsK = [Float](repeating: 0, count: nk)
      q.withUnsafeBufferPointer { qp in
        for i in 0..<n {
          normsQ[i] = VectorMath.dot(qp.baseAddress! + i * d, qp.baseAddress! + i * d, count: d)
          largestQ = max(largestQ, normsQ[i])
        }
      }
      let valid = (0..<nk).filter { head.weight($0) != 0 }
      for j in valid {
        normsK[j] = VectorMath.dot(head.k + j * d, head.k + j * d, count: d)
        largestK = max(largestK, normsK[j])
      }
      let total = largestQ + largestK
      for a in Scatterbrain.hashDirections(seed: head.seed, rounds: hashes, width: d + 2) {
        // Projections of the transformed vectors: q̃·a = q·a[..d] + √(M − |q|²)·a[d+1].
        var queryProjection = [Float](repeating: 0, count: n), keyProjection = [Float](repeating: 0, count: nk)
        a.withUnsafeBufferPointer { ap in
          q.withUnsafeBufferPointer { qp in
            for i in 0..<n {
              queryProjection[i] = VectorMath.dot(qp.baseAddress! + i * d, ap.baseAddress!, count: d) + max(0, total - normsQ[i]).squareRoot() * ap[d + 1]
            }
          }
          for j in valid {
            keyProjection[j] = VectorMath.dot(head.k + j * d, ap.baseAddress!, count: d) + max(0, total - normsK[j]).squareRoot() * ap[d]
          }
        }
        let queryOrder = (0..<n).sorted { (queryProjection[$0], $0) < (queryProjection[$1], $1) }
        let keyOrder = valid.sorted { (keyProjection[$0], $0) < (keyProjection[$1], $1) }
        var clusters = [Int](repeating: 0, count: n)
        for (rank, i) in queryOrder.enumerated() { clusters[i] = rank / bucket }
        queryClusters.append(clusters)
        clusterKeys.append(stride(from: 0, to: keyOrder.count, by: bucket).map { Array(keyOrder[$0..<min($0 + bucket, keyOrder.count)]) })
      }
    }

    /// The support of query `i`, each key once, in discovery order.
    mutating func keys(of i: Int) -> [Int] {
      var result: [Int] = []
      let visible = head.visibleKeys(i)
      func add(_ j: Int) {
        guard j < visible, stamp[j] != i, head.weight(j) != 0 else { return }
        stamp[j] = i
        result.append(j)
      }
      if window {
        let centre = i + head.keys - head.queries
        let first = max(0, centre - half), last = min(head.keys - 1, centre + half)
        if first <= last { for j in first...last { add(j) } }
      }
      for round in 0..<queryClusters.count {
        let cluster = queryClusters[round][i]
        guard cluster < clusterKeys[round].count else { continue }
        for j in clusterKeys[round][cluster] { add(j) }
      }
      return result
    }
  }
}

/// Features computed beforehand: the "inputs" are already feature rows, copied through.
struct StoredFeatures: DeterministicFeatureMap {
  let count: Int

  func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
    out.update(from: x, count: rows * count)
  }
}
