import Foundation

/// Plain, slow implementations that kernel tests compare against: Double precision, one head,
/// written as the formulas read.
public enum Reference {
  /// The dot product `Σ a_t·b_t`, summed left to right (the shorter operand sets the length).
  public static func dot(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
  }

  /// `softmax(q·kᵀ + bias)·v` for one head: `q [S, d]`, `k [L, d]`, `v [L, dv]` → `[S, dv]`.
  ///
  /// `bias` (length `L`, nil = zeros) is added to every query's scores; `−∞` removes a key, and
  /// `log w` makes key `j` count `w` times. Scores are not scaled: pass `q` already scaled. A
  /// query whose scores are all `−∞` gives NaN.
  public static func softmaxAttention(
    _ q: [[Double]], _ k: [[Double]], _ v: [[Double]], bias: [Double]? = nil
  ) -> [[Double]] {
    q.map { query in
      let scores = k.indices.map { dot(query, k[$0]) + (bias?[$0] ?? 0) }
      let top = scores.max() ?? 0
      let weights = scores.map { Foundation.exp($0 - top) }
      let total = weights.reduce(0, +)
      return (0..<(v.first?.count ?? 0)).map { c in
        k.indices.reduce(0) { $0 + weights[$1] * v[$1][c] } / total
      }
    }
  }

  /// The largest `|a_i − b_i|`, 0 for two empty collections.
  ///
  /// Built to fail a `< tolerance` check on anything suspicious: NaN when either side holds a
  /// NaN, `.infinity` when the counts differ (a missing or extra element). Equal infinities
  /// count as equal.
  public static func maxDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float
  where A.Element == Float, B.Element == Float {
    guard a.count == b.count else { return .infinity }
    var worst: Float = 0
    for (x, y) in zip(a, b) where x != y {
      let difference = abs(x - y)
      if difference.isNaN { return .nan }
      worst = max(worst, difference)
    }
    return worst
  }
}
