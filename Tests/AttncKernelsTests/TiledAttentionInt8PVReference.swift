@testable import AttncKernels
import AttncTensor
import CAttnc
import Foundation

/// The Double reference of the fused kernel in int8pv precision, its own math: the scores
/// as in int8 (`TiledAttentionInt8Tests.scoring`), the bfloat16 kernel's online softmax
/// (`TiledAttentionBFloat16Tests`) with the probabilities of each row and panel of 32 keys as
/// `round(p·255/m)·m/255` (m the panel's largest) and V quantized to int8 per value column of
/// each head, the products exact. `TiledAttentionInt8Tests` runs every case of the int8 kernel
/// in int8pv too against this reference, on every instruction set (AVX512-VNNI where present,
/// plain C under the AVX2 and portable limits), mixed per-head precisions included.
enum TiledAttentionInt8PVReference {
  typealias Case = TiledAttentionTests.Case

  /// V as the int8 P·V sees it: per value column of each key/value head, `s · round(v / s)` with
  /// `s = max|v| / 127` over the column's keys (a column holding NaN or ±inf is NaN).
  static func values(_ c: Case) -> [Float] {
    var v = TiledAttentionTests.operands(c).v.floats.owned
    for head in 0..<(c.batch * c.kvHeads) {
      for e in 0..<c.valueDepth {
        let indices = (0..<c.keys).map { (head * c.keys + $0) * c.valueDepth + e }
        let finite = indices.allSatisfy { v[$0].isFinite }
        let top = indices.reduce(Float(0)) { max($0, abs(v[$1])) }
        for index in indices {
          let step = top > 0 ? min(127, max(-127, (v[index] * (127 / top)).rounded(.toNearestOrEven))) : 0
          v[index] = finite ? top / 127 * step : .nan
        }
      }
    }
    return v
  }

  /// A panel of 32 probabilities as the int8 P·V sees them: `round(p·255/m)·m/255`, m the panel's
  /// largest.
  static func probabilities(_ p: [Float]) -> [Float] {
    let top = p.max() ?? 0
    guard top > 0 else { return p.map { _ in 0 } }
    return p.map { ($0 * (255 / top)).rounded(.toNearestOrEven) * (top / 255) }
  }

  static func reference(_ c: Case, queryBlock: Int, keyBlock: Int, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    TiledAttentionBFloat16Tests.reference(
      c, keyBlock: TiledAttentionBFloat16Tests.keyBlock(keyBlock, keys: c.keys),
      scoring: TiledAttentionInt8Tests.scoring(c, queryBlock: queryBlock), values: values(c), probabilities: probabilities, add: add)
  }

  /// Per output row, 1e-4 plus what one probability rounded to the other side of a half step
  /// moves it: `p·255/m` within float rounding of `k + ½` may round either way in the kernel
  /// (its float scores and exponential) and in the Double reference, a change of at most `1/255`
  /// in one `p`, `max|v| / (255 · Σp)` in the output (`Σp` the row's sum against its maximum).
  static func tolerances(_ c: Case, queryBlock: Int, add: (Int, Int, Int, Int) -> Float) -> [Float] {
    let (q, k) = TiledAttentionInt8Tests.scoring(c, queryBlock: queryBlock)
    let top = values(c).reduce(Float(0)) { max($0, abs($1)) }
    var tolerances = [Float](repeating: 1e-4, count: c.batch * c.heads * c.queries)
    TiledAttentionTests.forEachRow(c) { b, h, _, i in
      let scores = TiledAttentionTests.scores(c, q: q, k: k, b, h, i, add: add)
      guard let largest = scores.max(), largest > -.infinity else { return }
      let total = scores.reduce(0.0) { $0 + Foundation.exp($1 - largest) }
      tolerances[(b * c.heads + h) * c.queries + i] += Float(Double(top) / (255 * total))
    }
    return tolerances
  }
}
