import AttncTensor

extension Elementwise {
  /// Converts to `dtype` (floats to integers truncate toward zero; to narrower floats rounds).
  public static func cast(_ x: Tensor, to dtype: DType) throws -> Tensor {
    if x.dtype == dtype { return x }
    if x.dtype == .string || dtype == .string { throw AttncError.unsupported("string casts are not implemented") }
    if dtype.isFloatingPoint {
      var values = x.isFloat ? x.floats : x.ints.map { Float($0) }
      if dtype != .float && dtype != .double {
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
