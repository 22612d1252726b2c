import AttncTensor

extension Elementwise {
  /// ONNX `Dropout(data, ratio, training_mode) → (output, mask)`.
  ///
  /// Unless `training` is true and `ratio` above 0, the output is `x` and the mask all true.
  /// Otherwise element i (row-major) is kept when the i-th draw `u` of `random` satisfies
  /// `u ≥ ratio`, so with probability `1 − ratio`; kept elements are scaled by `1 / (1 − ratio)`
  /// and dropped ones are 0.
  /// - Parameters:
  ///   - maskType: the mask's dtype: bool from opset 10, the data's dtype before.
  /// - Throws: "ratio 1.5 is not in [0, 1)" in training mode; `.unsupported` for non-float data.
  public static func dropout(
    _ x: Tensor, ratio: Float, training: Bool, maskType: DType,
    random: inout MersenneTwister
  ) throws -> (output: Tensor, mask: Tensor) {
    guard x.isFloat else { throw AttncError.unsupported("Dropout on \(x.dtype) data") }
    var keep = [Bool](repeating: true, count: x.count)
    var output = x
    if training && ratio != 0 {
      guard ratio > 0 && ratio < 1 else {
        throw AttncError.invalid("ratio \(ratio) is not in [0, 1)")
      }
      let scale = 1 / (1 - ratio)
      for i in keep.indices { keep[i] = random.nextDouble() >= Double(ratio) }
      output.floats = FloatBuffer(zip(x.floats, keep).map { value, kept in kept ? value * scale : 0 })
    }
    let mask: Tensor =
      maskType.isFloatingPoint
      ? .float(keep.map { $0 ? 1 : 0 }, x.shape, dtype: maskType)
      : .int(keep.map { $0 ? 1 : 0 }, x.shape, dtype: maskType)
    return (output, mask)
  }
}
