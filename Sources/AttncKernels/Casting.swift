import AttncTensor

extension Elementwise {
  /// Converts `x` to `dtype` with ONNX Cast's rules: floats to integers truncate toward zero
  /// (NaN to 0) and wrap to the width; integers wrap; anything to bool is `x != 0`; to narrower
  /// floats values round to nearest even.
  ///
  /// - Parameters:
  ///   - saturate: Cast's `saturate` for the 8-bit float targets (see `NarrowFloat`).
  ///   - rounding: Cast's `round_mode` for float8e8m0 targets.
  ///   Strings parse as numbers ("1e-5", "INF", "NaN"; integer targets parse integers exactly
  ///   when every element is one); numbers print as strings (integers in decimal, float32 and
  ///   float64 in their shortest round-tripping form).
  /// - Throws: "cannot parse 'abc' as a number"; `.unsupported` for bool and 16- or 8-bit
  ///   floats to string.
  public static func cast(
    _ x: Tensor, to dtype: DType, saturate: Bool = true, rounding: NarrowFloat.Rounding = .up
  ) throws -> Tensor {
    if x.dtype == dtype { return x }
    if dtype == .string { return Tensor(dtype: .string, shape: x.shape, strings: try printed(x)) }
    if x.dtype == .string {
      if dtype.isInteger || dtype == .bool {
        let integers = x.strings.map { Int64($0.trimmingSpaces) }
        if integers.allSatisfy({ $0 != nil }) {
          return try cast(.int(integers.map { $0 ?? 0 }, x.shape), to: dtype, saturate: saturate, rounding: rounding)
        }
      }
      let numbers = try parsed(x.strings).map { Float($0) }
      return try cast(.float(numbers, x.shape), to: dtype, saturate: saturate, rounding: rounding)
    }
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
    // Int64 holds every value already: nothing to wrap.
    if dtype == .int64 { return .int(wide, x.shape, dtype: .int64) }
    if dtype == .bool {
      let flags = x.isFloat ? x.floats.map { Int64($0 != 0 ? 1 : 0) } : x.ints.map { Int64($0 != 0 ? 1 : 0) }
      return .int(flags, x.shape, dtype: .bool)
    }
    let wrapped = HostTensor(dtype: dtype, shape: [wide.count], integers: wide).int64s()
    return .int(wrapped, x.shape, dtype: dtype)
  }

  /// Numbers parsed from strings: decimal and scientific forms, and "INF", "+INF", "-INF", "NaN"
  /// in any case.
  /// - Throws: "cannot parse 'abc' as a number".
  static func parsed(_ strings: [String]) throws -> [Double] {
    try strings.map { raw in
      let text = raw.trimmingSpaces
      switch text.uppercased() {
      case "INF", "+INF": return .infinity
      case "-INF": return -.infinity
      case "NAN", "+NAN", "-NAN": return .nan
      default:
        guard let value = Double(text) else { throw AttncError.invalid("cannot parse '\(raw)' as a number") }
        return value
      }
    }
  }

  /// Elements printed as strings: integers in decimal, float32 and float64 in their shortest
  /// round-tripping form (`0.1`, `1e-05`, `inf`).
  /// - Throws: `.unsupported` for other dtypes (bool, 16- and 8-bit floats).
  static func printed(_ x: Tensor) throws -> [String] {
    if x.dtype.isInteger { return x.ints.map { "\($0)" } }
    switch x.dtype {
    case .float, .double: return x.floats.map { "\($0)" }
    default: throw AttncError.unsupported("casts from \(x.dtype) to string are not implemented")
    }
  }
}

extension String {
  /// The string without leading and trailing spaces, tabs and newlines.
  var trimmingSpaces: String {
    let blanks: Set<Character> = [" ", "\t", "\n", "\r"]
    var text = Substring(self)
    while let first = text.first, blanks.contains(first) { text = text.dropFirst() }
    while let last = text.last, blanks.contains(last) { text = text.dropLast() }
    return String(text)
  }
}
