/// The 8- and 4-bit float formats (float8e4m3fn, float8e4m3fnuz, float8e5m2, float8e5m2fnuz,
/// float8e8m0, float4e2m1): the value of each bit pattern, and the one encoding of a number into
/// a pattern that `Element.pack`, the IR's `Cast` and the runtime's Cast kernel all use.
///
/// Encoding follows ONNX `Cast` (opsets 19–25):
/// - Sign/exponent/mantissa formats round to nearest, ties to the even mantissa. A value whose
///   rounded magnitude passes the largest finite one (±infinity included) becomes, with
///   `saturate`, that largest value; without it, infinity in float8e5m2 and NaN in the others.
///   NaN stays NaN (pattern 0x7F or 0xFF by sign; 0x80 in the FNUZ formats); the FNUZ formats
///   have no -0, so a negative value rounding to zero becomes +0.
/// - float4e2m1 has neither infinity nor NaN: it always saturates (±6), and NaN becomes the -0
///   pattern 0x8, as the ONNX reference's float4 conversion (ml_dtypes) produces.
/// - float8e8m0 is a biased power-of-two exponent 2^(p-127), p = 0…254, and 0xFF is NaN. The
///   input is taken as float32 and its exponent field kept, incremented by `rounding`; the sign
///   is ignored (negative inputs are undefined in ONNX). With `saturate` the result stops at
///   0xFE and infinity becomes 0xFE; without it they become 0xFF. Values below 2^-127, zero
///   included, become pattern 0 in both modes, as in ONNX's reference.
public enum NarrowFloat {
  /// How a value becomes a float8e8m0 power of two: ONNX Cast's `round_mode` (opset 24).
  public enum Rounding: String, Sendable, CaseIterable, Codable {
    /// Up to the next power of two unless the value is one (Cast's default).
    case up
    /// Down to the power of two at or below the value (the exponent alone).
    case down
    /// To the nearest power of two in value, a value 1.5·2^e (exactly halfway) going up.
    case nearest
  }

  /// Whether `dtype` is one of the formats this type encodes.
  public static func covers(_ dtype: DType) -> Bool {
    switch dtype {
    case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .float4e2m1:
      true
    default: false
    }
  }

  // MARK: - Decoding

  /// The value of bit pattern `pattern` of `dtype` (for float4e2m1 the low nibble).
  /// - Precondition: `covers(dtype)`.
  public static func value(_ pattern: UInt8, _ dtype: DType) -> Double {
    switch dtype {
    case .float8e4m3fn: e4m3fnValues[Int(pattern)]
    case .float8e4m3fnuz: e4m3fnuzValues[Int(pattern)]
    case .float8e5m2: e5m2Values[Int(pattern)]
    case .float8e5m2fnuz: e5m2fnuzValues[Int(pattern)]
    case .float4e2m1: e2m1Values[Int(pattern & 0xF)]
    default: e8m0Values[Int(pattern)]
    }
  }

  /// The bit pattern of `x` in `dtype` under Cast's rules (see the type's summary).
  /// - Parameters:
  ///   - saturate: Cast's `saturate`: out-of-range values clamp to the largest finite value.
  ///   - rounding: Cast's `round_mode`, used by float8e8m0 only.
  /// - Precondition: `covers(dtype)`.
  public static func encode(
    _ x: Double, as dtype: DType, saturate: Bool, rounding: Rounding = .up
  ) -> UInt8 {
    switch dtype {
    case .float8e8m0: return encodeE8M0(Float(x), saturate: saturate, rounding: rounding)
    default: return layout(dtype).encode(x, saturate: saturate)
    }
  }

  /// `x` rounded to the nearest value `dtype` holds, under Cast's rules: `value(encode(x))`.
  public static func rounded(
    _ x: Double, to dtype: DType, saturate: Bool, rounding: Rounding = .up
  ) -> Double {
    value(encode(x, as: dtype, saturate: saturate, rounding: rounding), dtype)
  }

  // MARK: - Sign, exponent, mantissa formats

  /// A format with a sign bit, `exponentBits` of exponent biased by `bias`, and `mantissaBits`
  /// of mantissa (subnormals at exponent 0).
  struct Layout {
    var exponentBits: Int
    var mantissaBits: Int
    var bias: Int
    /// The pattern of the largest finite magnitude (sign bit clear).
    var largest: Int
    /// float8e5m2: the all-ones exponent with a zero mantissa is infinity.
    var hasInfinity = false
    /// FNUZ: the negative-zero pattern is the only NaN, and there is no -0.
    var unsignedZero = false
    /// float4e2m1 has no NaN pattern.
    var hasNaN = true

    var signBit: Int { 1 << (exponentBits + mantissaBits) }

    /// The value of `pattern` (bits above the format's width ignored).
    func value(_ pattern: Int) -> Double {
      let pattern = pattern & (2 * signBit - 1)
      let negative = pattern & signBit != 0
      let magnitudeBits = pattern & (signBit - 1)
      if unsignedZero && pattern == signBit { return .nan }
      if magnitudeBits > largest {
        if hasInfinity && magnitudeBits == largest + 1 { return negative ? -.infinity : .infinity }
        // A NaN keeps its sign, so that encoding the value again gives the same pattern.
        return negative ? -.nan : .nan
      }
      let exponent = magnitudeBits >> mantissaBits
      let mantissa = magnitudeBits & ((1 << mantissaBits) - 1)
      // Subnormals (exponent 0) have no implicit leading one and the exponent of the smallest normal.
      let significand = exponent == 0 ? mantissa : mantissa | (1 << mantissaBits)
      let magnitude = Double(sign: .plus, exponent: max(exponent, 1) - bias - mantissaBits,
                             significand: Double(significand))
      return negative ? -magnitude : magnitude
    }

    /// The pattern of `x`, rounded to nearest even; see `NarrowFloat` for the special values.
    func encode(_ x: Double, saturate: Bool) -> UInt8 {
      let sign = x.sign == .minus ? signBit : 0
      if x.isNaN { return UInt8(nanPattern(sign)) }
      let magnitude = abs(x)
      var pattern = largest + 1  // infinity overflows
      if magnitude.isFinite {
        // Units of the last place at x's binade (never below the subnormal spacing), so that
        // magnitude / ulp is the significand with the mantissa in its low bits.
        let minimumExponent = 1 - bias
        let exponent = max(magnitude.exponent, minimumExponent)
        let ulp = Double(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
        let significand = Int((magnitude / ulp).rounded(.toNearestOrEven))
        // A significand of 2^(m+1) (rounded up past the binade) carries into the exponent.
        pattern = ((exponent - minimumExponent) << mantissaBits) + significand
      }
      if pattern > largest {
        if saturate || !hasNaN { return UInt8(largest | sign) }
        return UInt8(hasInfinity ? (largest + 1) | sign : nanPattern(sign))
      }
      if pattern == 0 && unsignedZero { return 0 }
      return UInt8(pattern | sign)
    }

    /// The NaN pattern for a NaN of sign bit `sign`; for formats without NaN, -0.
    func nanPattern(_ sign: Int) -> Int {
      if unsignedZero || !hasNaN { return signBit }
      return (2 * signBit - 1) & ~signBit | sign
    }
  }

  static func layout(_ dtype: DType) -> Layout {
    switch dtype {
    case .float8e4m3fn: Layout(exponentBits: 4, mantissaBits: 3, bias: 7, largest: 0x7E)
    case .float8e4m3fnuz:
      Layout(exponentBits: 4, mantissaBits: 3, bias: 8, largest: 0x7F, unsignedZero: true)
    case .float8e5m2:
      Layout(exponentBits: 5, mantissaBits: 2, bias: 15, largest: 0x7B, hasInfinity: true)
    case .float8e5m2fnuz:
      Layout(exponentBits: 5, mantissaBits: 2, bias: 16, largest: 0x7F, unsignedZero: true)
    default: Layout(exponentBits: 2, mantissaBits: 1, bias: 1, largest: 0x7, hasNaN: false)
    }
  }

  private static func values(_ dtype: DType) -> [Double] {
    let layout = layout(dtype)
    return (0..<(2 * layout.signBit)).map { layout.value($0) }
  }

  private static let e4m3fnValues = values(.float8e4m3fn)
  private static let e4m3fnuzValues = values(.float8e4m3fnuz)
  private static let e5m2Values = values(.float8e5m2)
  private static let e5m2fnuzValues = values(.float8e5m2fnuz)
  private static let e2m1Values = values(.float4e2m1)
  private static let e8m0Values: [Double] = (0..<256).map {
    $0 == 0xFF ? .nan : Double(sign: .plus, exponent: $0 - 127, significand: 1)
  }

  // MARK: - float8e8m0

  /// The float8e8m0 pattern of `x`: its float32 exponent field, plus one when `rounding` says so.
  ///
  /// For normal floats `up` rounds up any nonzero mantissa and `nearest` a mantissa of at least
  /// one half, as ONNX's reference does. Float32 subnormals (below 2^-126) are m·2^-149 and
  /// pattern 0 is 2^-127 (m = 2^22): they round by value to pattern 0 or 1, so 2^-127 itself
  /// stays pattern 0 (the reference rounds every nonzero subnormal up).
  static func encodeE8M0(_ x: Float, saturate: Bool, rounding: Rounding) -> UInt8 {
    if x.isNaN { return 0xFF }
    if x.isInfinite { return saturate ? 0xFE : 0xFF }
    let exponent = (x.bitPattern >> 23) & 0xFF
    let mantissa = x.bitPattern & 0x7F_FFFF
    let up: Bool
    switch rounding {
    case .down: up = false
    case .up: up = exponent == 0 ? mantissa > 0x40_0000 : mantissa != 0
    case .nearest: up = mantissa >= (exponent == 0 ? 0x60_0000 : 0x40_0000)
    }
    guard up else { return UInt8(exponent) }
    if exponent == 0xFE { return saturate ? 0xFE : 0xFF }
    return UInt8(exponent + 1)
  }
}
