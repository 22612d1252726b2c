import AttncTensor
import CAttnc
import Foundation

/// Exact attention, fused and tiled: `Y = softmax(softcap(scale·Q·Kᵀ) + mask) · V`.
///
/// Work is split over (batch, query head, query block). Each query block walks the key blocks
/// with an online softmax (running row maximum `m` and sum `l`; the partial output is rescaled by
/// `e^{m_old − m_new}` when the maximum grows), so the `S×L` scores never exist: extra memory is
/// one `queryBlock × keyBlock` tile per thread. Both products are GEMMs through OpenBLAS. A query
/// head reads key/value head `h / (Hq / Hkv)` in place (GQA without repeating K and V). Causal
/// attention (bottom-right aligned: query `i` sees keys `j ≤ i + L − S`) skips the key blocks past
/// the diagonal. A row whose keys are all masked with −inf (or all weigh 0) gives zeros, not NaN.
public enum TiledAttention {
  /// The mask, in the form the kernel adds it to score tiles.
  public enum Mask {
    case none
    /// `[B, L]`; where the value is 0 the score gets `fill` added.
    case keyPadding(Tensor, fill: Float)
    /// Broadcasts to `[B, Hq, S, L]`.
    case bias(Tensor)
    /// `[B, L]` float, non-negative: key `j` counts `w_j` times (proportional attention), added
    /// to the scores as `log w_j` (−inf where `w_j = 0`).
    case keyWeights(Tensor)
  }

  public struct Options: Sendable {
    public var scale: Float
    public var causal: Bool
    public var softcap: Float
    public var queryBlock: Int
    public var keyBlock: Int

    public init(scale: Float, causal: Bool = false, softcap: Float = 0, queryBlock: Int = 256, keyBlock: Int = 512) {
      self.scale = scale
      self.causal = causal
      self.softcap = softcap
      self.queryBlock = queryBlock
      self.keyBlock = keyBlock
    }
  }

  /// An additive mask as a base pointer and element strides per score axis (0 = broadcast).
  struct AdditiveTerm {
    var values: [Float]
    var strides: (batch: Int, head: Int, query: Int, key: Int)

    func offset(batch b: Int, head h: Int, query i: Int) -> Int {
      b * strides.batch + h * strides.head + i * strides.query
    }
  }

  /// - Parameters: `q [B, Hq, S, d]`, `k [B, Hkv, L, d]`, `v [B, Hkv, L, dv]`, all float.
  /// - Returns: `[B, Hq, S, dv]`.
  /// - Throws: a message naming the operand whose shape does not fit.
  public static func run(q: Tensor, k: Tensor, v: Tensor, mask: Mask, options: Options) throws -> Tensor {
    let (batch, heads, kvHeads, queries, keys, depth, valueDepth) = try operandShape(q: q, k: k, v: v)
    let term = try additiveTerm(mask, batch: batch, heads: heads, queries: queries, keys: keys)
    let geometry = Geometry(
      batch: batch, heads: heads, kvHeads: kvHeads, queries: queries, keys: keys, depth: depth, valueDepth: valueDepth,
      queryBlock: max(1, min(options.queryBlock, queries)), keyBlock: max(1, min(options.keyBlock, keys)))
    var output = [Float](repeating: 0, count: batch * heads * queries * valueDepth)
    q.floats.withUnsafeBufferPointer { qp in
      k.floats.withUnsafeBufferPointer { kp in
        v.floats.withUnsafeBufferPointer { vp in
          output.withUnsafeMutableBufferPointer { yp in
            let operands = Operands(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, y: yp.baseAddress!)
            let blocksPerHead = (queries + geometry.queryBlock - 1) / geometry.queryBlock
            let items = batch * heads * blocksPerHead
            Parallel.chunks(items) { range in
              var scratch = Scratch(geometry)
              for item in range {
                let block = item % blocksPerHead, head = (item / blocksPerHead) % heads, b = item / (blocksPerHead * heads)
                queryBlock(b, head, block * geometry.queryBlock, operands, geometry, term, options, &scratch)
              }
            }
          }
        }
      }
    }
    return .float(output, [batch, heads, queries, valueDepth])
  }

  /// The sizes of `q [B, Hq, S, d]`, `k [B, Hkv, L, d]`, `v [B, Hkv, L, dv]` (Hq a multiple of Hkv).
  /// - Throws: when they are not 4-D floats or do not fit together.
  static func operandShape(q: Tensor, k: Tensor, v: Tensor) throws
    -> (batch: Int, heads: Int, kvHeads: Int, queries: Int, keys: Int, depth: Int, valueDepth: Int)
  {
    guard q.rank == 4, k.rank == 4, v.rank == 4, q.isFloat, k.isFloat, v.isFloat else {
      throw AttncError.invalid("attention takes 4-D float Q, K, V; got \(q.shape), \(k.shape), \(v.shape)")
    }
    let (batch, heads, queries, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvHeads, keys, valueDepth) = (k.shape[1], k.shape[2], v.shape[3])
    guard k.shape[0] == batch, v.shape[0] == batch, k.shape[3] == depth, v.shape[1] == kvHeads, v.shape[2] == keys,
      kvHeads > 0, heads % kvHeads == 0
    else {
      throw AttncError.invalid("attention operands do not fit: Q \(q.shape), K \(k.shape), V \(v.shape)")
    }
    return (batch, heads, kvHeads, queries, keys, depth, valueDepth)
  }

  struct Geometry {
    var batch, heads, kvHeads, queries, keys, depth, valueDepth, queryBlock, keyBlock: Int
  }

  struct Operands {
    var q, k, v: UnsafePointer<Float>
    var y: UnsafeMutablePointer<Float>
  }

  /// Per-thread tiles: scores, running maxima and sums.
  struct Scratch {
    var scores: [Float]
    var maxima: [Float]
    var sums: [Float]
    init(_ g: Geometry) {
      scores = [Float](repeating: 0, count: g.queryBlock * g.keyBlock)
      maxima = [Float](repeating: 0, count: g.queryBlock)
      sums = [Float](repeating: 0, count: g.queryBlock)
    }
  }

  static func additiveTerm(_ mask: Mask, batch: Int, heads: Int, queries: Int, keys: Int) throws -> AdditiveTerm? {
    switch mask {
    case .none:
      return nil
    case .keyPadding(let padding, let fill):
      guard padding.shape == [batch, keys] else {
        throw AttncError.invalid("key-padding mask has shape \(padding.shape), expected [\(batch), \(keys)]")
      }
      let values = padding.isFloat ? padding.floats.map { $0 == 0 ? fill : 0 } : padding.ints.map { $0 == 0 ? fill : 0 }
      return AdditiveTerm(values: values, strides: (keys, 0, 0, 1))
    case .keyWeights(let weights):
      return AdditiveTerm(values: try logKeyWeights(weights, batch: batch, keys: keys), strides: (keys, 0, 0, 1))
    case .bias(let bias):
      guard bias.isFloat, bias.rank <= 4 else { throw AttncError.invalid("attention bias must be float of rank ≤ 4, got \(bias.shape)") }
      let shape = [Int](repeating: 1, count: 4 - bias.rank) + bias.shape
      let full = [batch, heads, queries, keys]
      var strides = [Int](repeating: 0, count: 4)
      var stride = 1
      for axis in (0..<4).reversed() {
        guard shape[axis] == full[axis] || shape[axis] == 1 else {
          throw AttncError.invalid("attention bias \(bias.shape) does not broadcast to \(full)")
        }
        strides[axis] = shape[axis] == 1 ? 0 : stride
        stride *= shape[axis]
      }
      return AdditiveTerm(values: bias.floats.owned, strides: (strides[0], strides[1], strides[2], strides[3]))
    }
  }

  /// `log w` of `[B, L]` key weights, −inf where `w = 0` (NaN stays NaN and reaches the output).
  /// - Throws: when `weights` is not a float `[batch, keys]` tensor or holds a negative weight.
  static func logKeyWeights(_ weights: Tensor, batch: Int, keys: Int) throws -> [Float] {
    try checkKeyWeights(weights, batch: batch, keys: keys)
    return weights.floats.map { $0 == 0 ? -.infinity : Foundation.log($0) }
  }

  /// - Throws: "key weights must be float [2, 7], got [2, 5]", "key weight -1.0 (batch 0, key 3)
  ///   is negative".
  static func checkKeyWeights(_ weights: Tensor, batch: Int, keys: Int) throws {
    guard weights.isFloat, weights.shape == [batch, keys] else {
      throw AttncError.invalid("key weights must be float [\(batch), \(keys)], got \(weights.shape)")
    }
    if let index = weights.floats.firstIndex(where: { $0 < 0 }) {
      throw AttncError.invalid("key weight \(weights.floats[index]) (batch \(index / keys), key \(index % keys)) is negative")
    }
  }

  /// Computes output rows `start..<start + queryBlock` of one (batch, head).
  static func queryBlock(
    _ b: Int, _ head: Int, _ start: Int, _ x: Operands, _ g: Geometry, _ term: AdditiveTerm?, _ options: Options,
    _ scratch: inout Scratch
  ) {
    let rows = min(g.queryBlock, g.queries - start)
    let kvHead = head / (g.heads / g.kvHeads)
    let q = x.q + ((b * g.heads + head) * g.queries + start) * g.depth
    let k = x.k + (b * g.kvHeads + kvHead) * g.keys * g.depth
    let v = x.v + (b * g.kvHeads + kvHead) * g.keys * g.valueDepth
    let y = x.y + ((b * g.heads + head) * g.queries + start) * g.valueDepth
    let diagonal = g.keys - g.queries
    // Keys past the last row's diagonal are never seen by this block.
    let keyEnd = options.causal ? max(0, min(g.keys, start + rows + diagonal)) : g.keys
    for r in 0..<rows {
      scratch.maxima[r] = -.infinity
      scratch.sums[r] = 0
    }
    scratch.scores.withUnsafeMutableBufferPointer { tile in
      var keyStart = 0
      while keyStart < keyEnd {
        let columns = min(g.keyBlock, keyEnd - keyStart)
        gemm(m: rows, n: columns, k: g.depth, alpha: options.scale, q, k + keyStart * g.depth, transposeB: true, into: tile.baseAddress!)
        for r in 0..<rows {
          let row = tile.baseAddress! + r * columns
          // Causal: row `start + r` sees keys up to `start + r + diagonal`.
          let visible = options.causal ? min(columns, max(0, start + r + diagonal + 1 - keyStart)) : columns
          adjustScores(row, columns: columns, visible: visible, options: options, term: term,
                       termOffset: term.map { $0.offset(batch: b, head: head, query: start + r) + keyStart * $0.strides.key })
          updateRow(row, columns: columns, output: y + r * g.valueDepth, valueDepth: g.valueDepth,
                    maximum: &scratch.maxima[r], sum: &scratch.sums[r])
        }
        // y += P·V_block
        gemm(m: rows, n: g.valueDepth, k: columns, tile.baseAddress!, v + keyStart * g.valueDepth, beta: 1, into: y)
        keyStart += columns
      }
    }
    for r in 0..<rows {
      let sum = scratch.sums[r]
      let inverse: Float = sum > 0 ? 1 / sum : 0
      let row = y + r * g.valueDepth
      for c in 0..<g.valueDepth { row[c] *= inverse }
    }
  }

  /// Softcap, mask term and causal cut applied to one row of scaled scores; hidden keys get −inf.
  @inline(__always)
  static func adjustScores(
    _ row: UnsafeMutablePointer<Float>, columns: Int, visible: Int, options: Options, term: AdditiveTerm?, termOffset: Int?
  ) {
    if options.softcap > 0 {
      let cap = options.softcap, inverse = 1 / options.softcap
      for c in 0..<columns { row[c] = cap * VectorMath.tanh(row[c] * inverse) }
    }
    if let term, let offset = termOffset {
      term.values.withUnsafeBufferPointer { values in
        let base = values.baseAddress! + offset
        if term.strides.key == 0 {
          let add = base[0]
          for c in 0..<columns { row[c] += add }
        } else {
          for c in 0..<columns { row[c] += base[c] }
        }
      }
    }
    for c in visible..<columns { row[c] = -.infinity }
  }

  /// Online-softmax step for one row: exponentiates the row against the new running maximum,
  /// rescales the partial output and sum when the maximum grew.
  @inline(__always)
  static func updateRow(
    _ row: UnsafeMutablePointer<Float>, columns: Int, output: UnsafeMutablePointer<Float>, valueDepth: Int,
    maximum: inout Float, sum: inout Float
  ) {
    // The row maximum skips NaN; a NaN score still reaches the output through its exponential.
    let newMaximum = max(maximum, attnc_row_max(row, columns))
    guard newMaximum > -.infinity else {
      // Everything so far is masked: this block adds nothing (unless it holds NaN).
      let poisoned = (0..<columns).contains { row[$0].isNaN }
      for c in 0..<columns { row[c] = poisoned ? .nan : 0 }
      if poisoned { sum = .nan }
      return
    }
    let blockSum = attnc_exp_shift_sum(row, columns, newMaximum)
    let correction = maximum == -.infinity ? 0 : VectorMath.exp(maximum - newMaximum)
    if correction != 1 {
      for c in 0..<valueDepth { output[c] *= correction }
    }
    sum = sum * correction + blockSum
    maximum = newMaximum
  }
}
