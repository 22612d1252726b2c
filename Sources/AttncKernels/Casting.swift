import AttncTensor

extension Elementwise {
  /// Converts `x` to `dtype` with ONNX Cast's rules: floats to integers truncate toward zero
  /// (NaN to 0) and wrap to the width; integers wrap; anything to bool is `x != 0`; to narrower
  /// floats values round to nearest even.
  ///
  /// - Parameters:
  ///   - saturate: Cast's `saturate` for the 8-bit float targets (see `NarrowFloat`).
  ///   - rounding: Cast's `round_mode` for float8e8m0 targets.
  /// - Throws: `.unsupported` for string casts.
  public static func cast(
    _ x: Tensor, to dtype: DType, saturate: Bool = true, rounding: NarrowFloat.Rounding = .up
  ) throws -> Tensor {
    if x.dtype == dtype { return x }
    if x.dtype == .string || dtype == .string { throw AttncError.unsupported("string casts are not implemented") }
    if dtype.isFloatingPoint {
      var values = x.isFloat ? x.floats.owned : x.ints.map { Float($0) }
      if NarrowFloat.covers(dtype) {
        // Every result is a value of the target format, so storing it later packs it unchanged.
        values = values.map {
          Float(NarrowFloat.rounded(Double($0), to: dtype, saturate: saturate, rounding: rounding))
        }
      } else if dtype != .float && dtype != .double {
        values = HostTensor(dtype: dtype, shape: [values.count], converting: values.map { Double($0) }).floats()
      }
      return .float(values, x.shape, dtype: dtype)
    }
    let wide = x.isFloat ? x.floats.map { v -> Int64 in v.isNaN ? 0 : Int64(max(-9.2e18, min(9.2e18, v))) } : x.ints
    if dtype == .bool {
      let flags = x.isFloat ? x.floats.map { Int64($0 != 0 ? 1 : 0) } : x.ints.map { Int64($0 != 0 ? 1 : 0) }
      return .int(flags, x.shape, dtype: .bool)
    }
    let wrapped = HostTensor(dtype: dtype, shape: [wide.count], integers: wide).int64s()
    return .int(wrapped, x.shape, dtype: dtype)
  }
}
