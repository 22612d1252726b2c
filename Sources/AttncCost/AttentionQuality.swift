import AttncKernels

/// How close an approximate attention (or model) output is to the exact one. The cost model
/// measures each variant's error with it; `attnc bench quality` and `attnc verify` (in
/// AttncKit, which extends this type with captured datasets) report it.
public enum AttentionQuality {
  /// `‖a − b‖_F / ‖b‖_F`, `b` the reference, over the elements the two share (`zip`): 0 when
  /// both are zero, infinity when only `b` is.
  public static func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a, b) {
      difference += Double(x - y) * Double(x - y)
      norm += Double(y) * Double(y)
    }
    return norm > 0 ? (difference / norm).squareRoot() : (difference > 0 ? .infinity : 0)
  }

  /// Per query head of `[B, H, S, dv]` outputs, `relativeError` over that head's rows, the mean
  /// over batch items; empty unless both are 4-D of one shape.
  public static func headErrors(_ a: Tensor, _ b: Tensor) -> [Double] {
    guard a.rank == 4, a.shape == b.shape, a.isFloat, b.isFloat else { return [] }
    let (batch, heads, size) = (a.shape[0], a.shape[1], a.shape[2] * a.shape[3])
    return (0..<heads).map { h in
      (0..<batch).reduce(0.0) { total, item in
        let rows = ((item * heads + h) * size)..<((item * heads + h + 1) * size)
        return total + relativeError(a.floats[rows], b.floats[rows])
      } / Double(max(1, batch))
    }
  }
}
