import AttncTensor

extension Tensor {
  /// The tensor with each float element rounded to the nearest value its `dtype` holds (nearest
  /// even; out of range to infinity, as `Element.pack` stores it); float32, float64 and
  /// non-float tensors come back unchanged.
  ///
  /// Kernels compute narrow floats widened to Float32; an ONNX op's result is a tensor of its
  /// element type, so each kernel output is rounded once before the next op reads it.
  public func roundedToDType() -> Tensor {
    var copy = self
    if let narrow = NarrowFloatArithmetic(dtype) {
      copy.floats = FloatBuffer(floats.map(narrow.rounded))
    } else if NarrowFloat.covers(dtype) {
      copy.floats = FloatBuffer(floats.map {
        Float(NarrowFloat.rounded(Double($0), to: dtype, saturate: false, rounding: .nearest))
      })
    }
    return copy
  }
}
