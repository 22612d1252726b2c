import AttncTensor
import Foundation

/// Shrinking the sequence axis from `L` tokens to `k` pseudo-tokens (Linformer's `E·K`, `F·V`;
/// FLuRKA's low-rank step; Nyström's landmarks).
enum SequenceProjection {
  /// The parameters of the variants that project the sequence axis (Linformer, FLuRKA): `k`
  /// pseudo-tokens and the random construction's `δ`.
  static let rank = AttentionVariantDefinition.Parameter("k", default: 128, 1...65536, help: "projected length")
  static let delta = AttentionVariantDefinition.Parameter(
    "delta", default: 1, 0...16, integer: false, help: "δ of the random construction")

  /// `E = F` = segment means: `k` contiguous segments with edges `⌊i·L/k⌋`; a segment averages
  /// its tokens weighted by their key weights (`Σ w_j·x_j / Σ w_j`, the unmasked tokens' plain
  /// mean under key padding), and a segment whose tokens all weigh 0 is dropped. `k ≥ L` keeps
  /// every token.
  ///
  /// With key weights each pseudo-token also carries a weight: the mean weight of the tokens it
  /// pools, `Σ_{j∈s} w_j / #{j ∈ s : w_j ≠ 0}`. The unweighted methods give every segment the same
  /// weight however many (unmasked) tokens it pools, so with weights in {0, 1} every pseudo-token
  /// weighs 1 and the result is the key-padding one; the total `Σ w_j` would instead weigh a
  /// half-padded segment by its unmasked count, which key padding never did.
  case pool
  /// Linformer's Theorem 2 / FLuRKA's Theorem 1 construction: `E = δ·R`, `F = e^{−δ}·R`, `R [k, L]`
  /// with i.i.d. `N(0, 1/k)` entries drawn from `seed`; masked tokens (weight 0) get zero
  /// columns. It takes key padding only, not general weights: `E·K` mixes the key vectors
  /// before the softmax, so no score carries a single key's weight (the variants refuse
  /// `key_weights` in this mode).
  case random(delta: Float, seed: UInt64)

  /// The pseudo-tokens: `x = E·x [rows, width]`, `y = F·y [rows, width2]`, and for `.pool` with
  /// `weights` each pseudo-token's weight (`[rows]`; nil otherwise).
  struct Projected {
    var x: [Float]
    var y: [Float]
    var rows: Int
    var weights: [Float]?
  }

  /// The head's keys and values projected to at most `k` (`rank`) pseudo-tokens: by the random
  /// construction with `delta` and the head's seed when `random`, else by pooling.
  static func keysAndValues(of head: AttentionHead, _ p: VariantParameters, random: Bool) -> Projected {
    let projection: SequenceProjection = random ? .random(delta: Float(p[delta]), seed: head.seed) : .pool
    return projection.project(
      head.k, width: head.depth, head.v, width2: head.valueDepth, length: head.keys, rank: p.int(rank), weights: head.keyWeights)
  }

  /// Segment-mean pooling of `k` and `v` in standard ops: `E [rank, L]` built from the key
  /// length (`E[s, j] = 1` for `⌊s·L/p⌋ ≤ j < ⌊(s+1)·L/p⌋`, `p = min(rank, L)`), the pooled rows
  /// `E·(w⊙x) / E·w`, and each pseudo-token's mean weight `[B, 1, rank, 1]` (0 for a segment that
  /// is empty or fully masked, which `pool` drops).
  static func poolForm(_ b: inout ONNXGraphBuilder, _ x: AttentionFormOperands, rank: Int) -> (keys: String, values: String, weights: String) {
    let pooled = poolForm(&b, x, rank: rank, rows: [x.k, x.v])
    return (pooled.rows[0], pooled.rows[1], pooled.weights)
  }

  /// `poolForm` of any rows over the keys' axis (`[B, H, L, ·]` each): their weighted segment
  /// means and the segments' mean weights.
  static func poolForm(_ b: inout ONNXGraphBuilder, _ x: AttentionFormOperands, rank: Int, rows: [String]) -> (rows: [String], weights: String) {
    let length = b.scalarDimension(of: x.k, axis: 2)
    let pool = segmentForm(&b, length: length, rank: rank)  // [k, L]
    let toFloat: [(name: String, value: ONNXAttribute)] = [("to", .int(Int64(DType.float.rawValue)))]
    let zero = b.int(0, "zero")
    let tokens = b.op("Range", zero, length, b.int(1, "one"))  // [L]
    let w = x.weights ?? b.unsqueeze(b.op("Cast", b.op("GreaterOrEqual", tokens, zero), attributes: toFloat), axes: [0, 1, 3])
    let floatZero = b.scalar(0, "fzero")
    let total = b.op("MatMul", pool, w)  // [B, 1, k, 1]: Σ w
    let counted = b.op("MatMul", pool, b.op("Cast", b.op("Not", b.op("Equal", w, floatZero)), attributes: toFloat))
    let safeTotal = b.op("Where", b.op("Equal", total, floatZero), b.scalar(1, "fone"), total)
    let means = rows.map { b.op("Div", b.op("MatMul", pool, b.op("Mul", $0, w)), safeTotal) }
    let meanWeight = b.op("Div", total, b.op("Where", b.op("Equal", counted, floatZero), b.scalar(1, "fone"), counted))
    return (means, meanWeight)
  }

  /// `segments` in standard ops: `E [rank, L]` float, `E[s, j] = 1` for
  /// `⌊s·L/p⌋ ≤ j < ⌊(s+1)·L/p⌋`, `p = min(rank, L)`, so rows past `p` are empty; `length` is
  /// `L` as an int64 scalar.
  static func segmentForm(_ b: inout ONNXGraphBuilder, length: String, rank: Int) -> String {
    let (zero, one) = (b.int(0, "zero"), b.int(1, "one"))
    let parts = b.op("Min", b.int(rank, "rank"), length)
    let segment = b.op("Range", zero, b.int(rank, "rank"), one)  // [k]
    let start = b.op("Div", b.op("Mul", segment, length), parts)
    let end = b.op("Div", b.op("Mul", b.op("Add", segment, one), length), parts)
    let token = b.unsqueeze(b.op("Range", zero, length, one), axes: [0])  // [1, L]
    let inside = b.op("And", b.op("GreaterOrEqual", token, b.unsqueeze(start, axes: [1])), b.op("Less", token, b.unsqueeze(end, axes: [1])))
    return b.op("Cast", inside, attributes: [("to", .int(Int64(DType.float.rawValue)))])
  }

  /// Projects rows `x [L, width]` and `y [L, width2]` to at most `rank` pseudo-tokens.
  func project(
    _ x: UnsafePointer<Float>, width: Int, _ y: UnsafePointer<Float>, width2: Int, length: Int, rank: Int,
    weights: UnsafePointer<Float>?
  ) -> Projected {
    switch self {
    case .pool:
      let segments = Self.segments(length: length, count: rank, weights: weights)
      var px = [Float](repeating: 0, count: segments.count * width), py = [Float](repeating: 0, count: segments.count * width2)
      var pooledWeights = [Float](repeating: 1, count: segments.count)
      for (s, segment) in segments.enumerated() {
        Self.mean(x, width: width, segment, weights: weights, into: &px, row: s)
        Self.mean(y, width: width2, segment, weights: weights, into: &py, row: s)
        pooledWeights[s] = Self.meanWeight(segment, weights: weights)
      }
      return Projected(x: px, y: py, rows: segments.count, weights: weights == nil ? nil : pooledWeights)
    case .random(let delta, let seed):
      let r = Self.gaussianMatrix(rows: rank, columns: length, seed: seed, weights: weights)
      var px = [Float](repeating: 0, count: rank * width), py = [Float](repeating: 0, count: rank * width2)
      r.withUnsafeBufferPointer { rp in
        px.withUnsafeMutableBufferPointer { gemm(m: rank, n: width, k: length, alpha: delta, rp.baseAddress!, x, into: $0.baseAddress!) }
        py.withUnsafeMutableBufferPointer {
          gemm(m: rank, n: width2, k: length, alpha: Float(Foundation.exp(-Double(delta))), rp.baseAddress!, y, into: $0.baseAddress!)
        }
      }
      return Projected(x: px, y: py, rows: rank, weights: nil)
    }
  }

  /// The non-empty segments of `0..<length` cut into `count` parts (weights: tokens weighing 0 do not count).
  static func segments(length: Int, count: Int, weights: UnsafePointer<Float>?) -> [Range<Int>] {
    let parts = max(1, min(count, length))
    return (0..<parts).compactMap { i in
      let range = (i * length / parts)..<((i + 1) * length / parts)
      guard !range.isEmpty else { return nil }
      if let weights, !range.contains(where: { weights[$0] != 0 }) { return nil }
      return range
    }
  }

  /// Row `row` of `target` = `Σ w_j·x_j / Σ w_j` over `segment` (`w` = 1 without weights).
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

  /// `Σ w_j / #{j : w_j ≠ 0}` over `segment`: 1 when every weight is 0 or 1.
  static func meanWeight(_ segment: Range<Int>, weights: UnsafePointer<Float>?) -> Float {
    guard let weights else { return 1 }
    var total: Float = 0, count = 0
    for j in segment where weights[j] != 0 {
      total += weights[j]
      count += 1
    }
    return count == 0 ? 0 : total / Float(count)
  }

  /// `R [rows, columns]`, entries `N(0, 1/rows)`, the columns of keys weighing 0 zero.
  static func gaussianMatrix(rows: Int, columns: Int, seed: UInt64, weights: UnsafePointer<Float>?) -> [Float] {
    var gaussian = GaussianStream(seed: seed)
    let deviation = 1 / Double(rows).squareRoot()
    var r = [Float](repeating: 0, count: rows * columns)
    for i in 0..<(rows * columns) {
      let value = Float(gaussian.next() * deviation)
      r[i] = (weights?[i % columns] ?? 1) == 0 ? 0 : value
    }
    return r
  }
}

/// Row-wise softmax attention of `rows` queries against `keys` (pseudo-)keys:
/// `y = softmax(q·kᵀ + log w)·v` with `q` already scaled and `w` the keys' weights (nil = all 1;
/// no weight may be 0). Used on the short side of the low-rank variants.
func denseSoftmaxAttention(
  _ q: UnsafePointer<Float>, rows: Int, depth: Int, _ k: UnsafePointer<Float>, keys: Int, _ v: UnsafePointer<Float>,
  valueDepth: Int, keyWeights: [Float]? = nil, into y: UnsafeMutablePointer<Float>
) {
  let logWeights = keyWeights?.map { Foundation.log($0) }
  let block = 256
  var scores = [Float](repeating: 0, count: min(block, rows) * keys)
  scores.withUnsafeMutableBufferPointer { s in
    var start = 0
    while start < rows {
      let count = min(block, rows - start)
      gemm(m: count, n: keys, k: depth, q + start * depth, k, transposeB: true, into: s.baseAddress!)
      for r in 0..<count {
        let row = s.baseAddress! + r * keys
        if let logWeights {
          for j in 0..<keys { row[j] += logWeights[j] }
        }
        VectorMath.softmaxRow(row, count: keys)
      }
      gemm(m: count, n: valueDepth, k: keys, s.baseAddress!, v, into: y + start * valueDepth)
      start += count
    }
  }
}
