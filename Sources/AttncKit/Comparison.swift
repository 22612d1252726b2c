import AttncTensor

/// Element-wise comparison with the ONNX test-runner rule `|a - b| ≤ atol + rtol·|b|`.
public struct Comparison: Sendable {
  public var maxAbsolute: Double = 0
  public var maxRelative: Double = 0
  public var withinTolerance = true
  /// `‖a − b‖_F / ‖b‖_F`.
  public var relativeFrobenius: Double = 0
  /// False when the shapes differ (every error is then infinite).
  public var shapesMatch = true

  public init(_ actual: HostTensor, _ expected: HostTensor, relative: Double, absolute: Double) {
    guard actual.shape == expected.shape else {
      withinTolerance = false
      shapesMatch = false
      maxAbsolute = .infinity
      maxRelative = .infinity
      relativeFrobenius = .infinity
      return
    }
    if actual.dtype == .string {
      withinTolerance = actual.strings == expected.strings
      return
    }
    let a = actual.doubles(), b = expected.doubles()
    var difference = 0.0, norm = 0.0
    for i in a.indices {
      if a[i].isNaN && b[i].isNaN { continue }
      if a[i] == b[i] { norm += b[i] * b[i]; continue }
      let error = abs(a[i] - b[i])
      if error.isNaN || error > absolute + relative * abs(b[i]) { withinTolerance = false }
      maxAbsolute = max(maxAbsolute, error.isNaN ? .infinity : error)
      if b[i] != 0 { maxRelative = max(maxRelative, error / abs(b[i])) }
      difference += error * error
      norm += b[i] * b[i]
    }
    relativeFrobenius = norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
  }
}
