import Foundation

/// Shrinking the sequence axis from `L` tokens to `k` pseudo-tokens (Linformer's `E·K`, `F·V`;
/// FLuRKA's low-rank step; Nyström's landmarks).
enum SequenceProjection {
  /// `E = F` = segment means: `k` contiguous segments with edges `⌊i·L/k⌋`; a segment averages
  /// its unmasked tokens, and a segment with none is dropped. `k ≥ L` keeps every token.
  case pool
  /// Linformer's Theorem 2 / FLuRKA's Theorem 1 construction: `E = δ·R`, `F = e^{−δ}·R`, `R [k, L]`
  /// with i.i.d. `N(0, 1/k)` entries drawn from `seed`; masked tokens get zero columns.
  case random(delta: Float, seed: UInt64)

  /// `(E·x [k', width], F·y [k', width2], k')` for rows `x [L, width]` and `y [L, width2]`.
  func project(
    _ x: UnsafePointer<Float>, width: Int, _ y: UnsafePointer<Float>, width2: Int, length: Int, rank: Int,
    weights: UnsafePointer<Float>?
  ) -> (x: [Float], y: [Float], rows: Int) {
    switch self {
    case .pool:
      let segments = Self.segments(length: length, count: rank, weights: weights)
      var px = [Float](repeating: 0, count: segments.count * width), py = [Float](repeating: 0, count: segments.count * width2)
      for (s, segment) in segments.enumerated() {
        Self.mean(x, width: width, segment, weights: weights, into: &px, row: s)
        Self.mean(y, width: width2, segment, weights: weights, into: &py, row: s)
      }
      return (px, py, segments.count)
    case .random(let delta, let seed):
      let r = Self.gaussianMatrix(rows: rank, columns: length, seed: seed, weights: weights)
      var px = [Float](repeating: 0, count: rank * width), py = [Float](repeating: 0, count: rank * width2)
      r.withUnsafeBufferPointer { rp in
        px.withUnsafeMutableBufferPointer { gemm(m: rank, n: width, k: length, alpha: delta, rp.baseAddress!, x, into: $0.baseAddress!) }
        py.withUnsafeMutableBufferPointer {
          gemm(m: rank, n: width2, k: length, alpha: Float(Foundation.exp(-Double(delta))), rp.baseAddress!, y, into: $0.baseAddress!)
        }
      }
      return (px, py, rank)
    }
  }

  /// The non-empty segments of `0..<length` cut into `count` parts (weights: masked tokens do not count).
  static func segments(length: Int, count: Int, weights: UnsafePointer<Float>?) -> [Range<Int>] {
    let parts = max(1, min(count, length))
    return (0..<parts).compactMap { i in
      let range = (i * length / parts)..<((i + 1) * length / parts)
      guard !range.isEmpty else { return nil }
      if let weights, !range.contains(where: { weights[$0] != 0 }) { return nil }
      return range
    }
  }

  /// Row `row` of `target` = the mean of the unmasked rows of `x` in `segment`.
  static func mean(_ x: UnsafePointer<Float>, width: Int, _ segment: Range<Int>, weights: UnsafePointer<Float>?, into target: inout [Float], row: Int) {
    var total: Float = 0
    for j in segment {
      let w = weights?[j] ?? 1
      guard w != 0 else { continue }
      total += w
      for t in 0..<width { target[row * width + t] += w * x[j * width + t] }
    }
    let inverse = 1 / total
    for t in 0..<width { target[row * width + t] *= inverse }
  }

  /// `R [rows, columns]`, entries `N(0, 1/rows)`, masked columns zero.
  static func gaussianMatrix(rows: Int, columns: Int, seed: UInt64, weights: UnsafePointer<Float>?) -> [Float] {
    var gaussian = GaussianStream(seed: seed)
    let deviation = 1 / Double(rows).squareRoot()
    var r = [Float](repeating: 0, count: rows * columns)
    for i in 0..<(rows * columns) {
      let value = Float(gaussian.next() * deviation)
      r[i] = value * (weights?[i % columns] ?? 1)
    }
    return r
  }
}

/// Row-wise softmax attention of `rows` queries against `keys` (pseudo-)keys, no mask:
/// `y = softmax(q·kᵀ)·v` with `q` already scaled. Used on the short side of the low-rank variants.
func denseSoftmaxAttention(
  _ q: UnsafePointer<Float>, rows: Int, depth: Int, _ k: UnsafePointer<Float>, keys: Int, _ v: UnsafePointer<Float>,
  valueDepth: Int, into y: UnsafeMutablePointer<Float>
) {
  let block = 256
  var scores = [Float](repeating: 0, count: min(block, rows) * keys)
  scores.withUnsafeMutableBufferPointer { s in
    var start = 0
    while start < rows {
      let count = min(block, rows - start)
      gemm(m: count, n: keys, k: depth, q + start * depth, k, transposeB: true, into: s.baseAddress!)
      for r in 0..<count { VectorMath.softmaxRow(s.baseAddress! + r * keys, count: keys) }
      gemm(m: count, n: valueDepth, k: keys, s.baseAddress!, v, into: y + start * valueDepth)
      start += count
    }
  }
}
