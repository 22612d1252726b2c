import AttncTensor
import Foundation

extension TiledAttention {
  /// The rows of a causal attention whose visible keys are all masked, when the model's mask
  /// adds a finite `causalFill` past the diagonal (eager exports add `finfo.min` there, as to
  /// padded keys). The tiled pass cuts those keys with −inf, which is exact for every row with
  /// a visible unmasked key; a row without one is, in the model, the softmax over all `L` keys
  /// of `score + fill` (with `finfo.min` a uniform average of V). Such rows are recomputed so.
  ///
  /// Handles no mask (rows before the first key when `S > L`), key padding (rows that see only
  /// padded keys) and an additive bias that holds the fill itself past the diagonal (a sliding
  /// window's mask, kept as the model computes it: rows whose visible keys all get at most
  /// `causalFill` are the softmax of `score + bias` over all keys). Key weights are left as the
  /// tiled pass computed them.
  static func recomputeFullyMaskedRows(
    q: Tensor, k: Tensor, v: Tensor, mask: Mask, options: Options, output y: UnsafeMutableBufferPointer<Float>
  ) throws {
    guard options.causal, options.causalFill.isFinite else { return }
    let (batch, heads, kvHeads, queries, keys, depth, valueDepth) = try operandShape(q: q, k: k, v: v)
    let diagonal = keys - queries
    // Per batch: the first key that is not padded (`keys` when every key is), and the padded
    // keys' fill.
    var firstVisible = [Int](repeating: 0, count: batch)
    var padded: ((Int, Int) -> Bool)?
    var fill: Float = 0
    var bias: AdditiveTerm?
    switch mask {
    case .none:
      break
    case .keyPadding(let padding, let value):
      guard padding.shape == [batch, keys] else { return }
      let zero = padding.isFloat ? padding.floats.map { $0 == 0 } : padding.ints.map { $0 == 0 }
      for b in 0..<batch { firstVisible[b] = (0..<keys).first { !zero[b * keys + $0] } ?? keys }
      padded = { b, j in zero[b * keys + j] }
      fill = value
    case .bias:
      bias = try additiveTerm(mask, batch: batch, heads: heads, queries: queries, keys: keys)
    case .keyWeights:
      return
    }
    var scores = [Float](repeating: 0, count: keys)
    q.floats.withUnsafeBufferPointer { qp in
      k.floats.withUnsafeBufferPointer { kp in
        v.floats.withUnsafeBufferPointer { vp in
          for b in 0..<batch {
            // Row i sees keys j ≤ i + diagonal; none of them unpadded while i + diagonal < firstVisible.
            // Under a bias any row may be masked: each is checked.
            let rows = bias == nil ? min(queries, max(0, firstVisible[b] - diagonal)) : queries
            for h in 0..<heads {
              let g = h / (heads / kvHeads)
              for i in 0..<rows {
                let biasRow = bias.map { term in { (j: Int) in term.values[term.offset(batch: b, head: h, query: i) + j * term.strides.key] } }
                // A row with a visible key the bias does not mask is exact as the tiled pass computed
                // it. Looked for from the diagonal back: a sliding window's visible keys are the last.
                if let biasRow, i + diagonal >= 0,
                  stride(from: min(i + diagonal, keys - 1), through: 0, by: -1).contains(where: { biasRow($0) > options.causalFill })
                {
                  continue
                }
                let query = qp.baseAddress! + ((b * heads + h) * queries + i) * depth
                for j in 0..<keys {
                  let key = kp.baseAddress! + ((b * kvHeads + g) * keys + j) * depth
                  var dot: Float = 0
                  for t in 0..<depth { dot += query[t] * key[t] }
                  var s = options.scale * dot
                  if options.softcap > 0 { s = options.softcap * Foundation.tanh(s / options.softcap) }
                  let visible = j <= i + diagonal
                  scores[j] = s + (biasRow?(j) ?? (visible ? (padded?(b, j) == true ? fill : 0) : options.causalFill))
                }
                let top = scores.max() ?? -.infinity
                let out = y.baseAddress! + ((b * heads + h) * queries + i) * valueDepth
                for c in 0..<valueDepth { out[c] = 0 }
                guard top > -.infinity else { continue }
                var total: Float = 0
                for j in 0..<keys {
                  let weight = Foundation.exp(scores[j] - top)
                  total += weight
                  let value = vp.baseAddress! + ((b * kvHeads + g) * keys + j) * valueDepth
                  for c in 0..<valueDepth { out[c] += weight * value[c] }
                }
                for c in 0..<valueDepth { out[c] /= total }
              }
            }
          }
        }
      }
    }
  }
}
