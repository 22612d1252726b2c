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
}
