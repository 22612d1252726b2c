import AttncTensor

/// `Cast(x)`: every element converted to the `to` dtype, dims unchanged.
///
/// Floats to integers truncate toward zero and wrap to the width (undefined in ONNX when out of
/// range); integers wrap; anything to bool is `x != 0`. To the 8-bit float formats values round
/// to nearest even and, with `saturate` (opset 19, default 1), clamp to the largest finite value;
/// without it they overflow to infinity (E5M2) or NaN. float4e2m1 always saturates and maps NaN
/// to -0 (no NaN encoding). float8e8m0 keeps the power of two, rounded as `round_mode` says
/// (`up`, `down`, `nearest`; opset 24). Strings parse as numbers ("1e-5", "INF", "NaN") and
/// numbers print in their shortest form. Integer contents pass through, so a `Cast` in the middle
/// of shape arithmetic keeps the dims symbolic.
public struct Cast: Op, Evaluable, ContentPropagating {
  /// How a value becomes a float8e8m0 power of two.
  public enum RoundMode: String, Sendable {
    /// Up to the next power of two unless exact (the default).
    case up
    /// Down to the power of two below (the exponent alone).
    case down
    /// To the nearest power of two, ties up.
    case nearest
  }

  /// The target dtype.
  public var to: DType
  /// The `saturate` attribute: clamp out-of-range values of 8-bit float targets.
  public var saturate: Bool
  /// The `round_mode` attribute, for float8e8m0 targets.
  public var roundMode: RoundMode

  /// A cast to `to` with the ONNX defaults.
  public init(to: DType, saturate: Bool = true, roundMode: RoundMode = .up) {
    self.to = to
    self.saturate = saturate
    self.roundMode = roundMode
  }

  /// Reads `to` (a type name such as "FLOAT" in opsets 1–5, a `DataType` number from 6),
  /// `saturate` (default 1) and `round_mode` (default "up").
  /// - Throws: "attribute 'to' is required"; "unknown tensor data type 40"; "unknown tensor
  ///   data type name 'FLOAT128'"; "round_mode 'sideways' is not one of up, down, nearest".
  public init(attributes: Attributes, opset: Int) throws {
    switch attributes["to"] {
    case .string(let name)?:
      guard let dtype = Cast.legacyNames[name.uppercased()] else {
        throw AttncError.unsupported("unknown tensor data type name '\(name)'")
      }
      self.init(to: dtype)
    case .int(let number)?:
      self.init(to: try DType(onnx: Int32(clamping: number)))
    case nil:
      throw AttncError.invalid("attribute 'to' is required")
    default:
      throw AttncError.invalid("attribute 'to' must be an int")
    }
    try readConversionAttributes(attributes)
  }

  /// The `TensorProto.DataType` names opsets 1–5 spell `to` with.
  static let legacyNames: [String: DType] = [
    "FLOAT": .float, "UINT8": .uint8, "INT8": .int8, "UINT16": .uint16, "INT16": .int16,
    "INT32": .int32, "INT64": .int64, "STRING": .string, "BOOL": .bool, "FLOAT16": .float16,
    "DOUBLE": .double, "UINT32": .uint32, "UINT64": .uint64, "COMPLEX64": .complex64,
    "COMPLEX128": .complex128, "BFLOAT16": .bfloat16,
  ]

  /// Reads the attributes Cast and CastLike share.
  mutating func readConversionAttributes(_ attributes: Attributes) throws {
    saturate = try attributes.int("saturate", default: 1) != 0
    let mode = try attributes.string("round_mode", default: "up")
    guard let roundMode = RoundMode(rawValue: mode) else {
      throw AttncError.invalid("round_mode '\(mode)' is not one of up, down, nearest")
    }
    self.roundMode = roundMode
  }

  /// The input's dims in the target dtype.
  /// - Throws: "expects 1 inputs, got 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    return [TensorType(to, try inputs.required(0).dims)]
  }

  /// The converted tensor.
  /// - Throws: `.unsupported` for complex types and for casts to string from anything but
  ///   integers, float32 and float64; "cannot parse 'abc' as a number".
  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    [try convert(try required(inputs, 0))]
  }

  /// Integer (and bool) contents to an integer target pass through; to bool they become 0/1.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [Cast.content(inputs.first ?? nil, to: to)]
  }

  /// `x`'s content after a cast to `target`, when it stays an integer vector.
  static func content(_ x: ValueFact?, to target: DType) -> [Dim]? {
    guard let x, let content = x.content, x.dtype.isInteger || x.dtype == .bool else { return nil }
    if target == .bool {
      let values = content.compactMap(\.value)
      guard values.count == content.count else { return nil }
      return values.map { Dim($0 != 0 ? 1 : 0) }
    }
    guard target.isInteger else { return nil }
    // Narrowing would wrap large values; dims and small constants fit every integer type.
    let fits = content.allSatisfy { d in d.value.map { abs($0) < 128 } ?? true }
    return fits || target.bitWidth >= 32 ? content : nil
  }

  // MARK: - Element conversion

  /// `x` converted to `to` under this cast's `saturate` and `round_mode`.
  /// - Throws: see `evaluate(_:outputCount:)`.
  func convert(_ x: HostTensor) throws -> HostTensor {
    if x.dtype == to { return x }
    for dtype in [x.dtype, to] where dtype == .complex64 || dtype == .complex128 {
      throw AttncError.unsupported("casts involving \(dtype) are not evaluated")
    }
    if to == .string { return HostTensor(strings: try Cast.strings(x), shape: x.shape) }
    let values = try x.dtype == .string ? Cast.numbers(x.strings) : x.doubles()
    switch to {
    case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
      let bytes = values.map { Cast.float8Pattern($0, to, saturate: saturate) }
      return try HostTensor(dtype: to, shape: x.shape, storage: ByteStorage(bytes))
    case .float4e2m1:
      let nibbles = values.map(Cast.float4Pattern)
      var bytes = [UInt8](repeating: 0, count: (nibbles.count + 1) / 2)
      for (i, n) in nibbles.enumerated() { bytes[i / 2] |= i % 2 == 0 ? n : n << 4 }
      return try HostTensor(dtype: to, shape: x.shape, storage: ByteStorage(bytes))
    case .float8e8m0:
      let bytes = values.map { Cast.e8m0Pattern(Float($0), saturate: saturate, mode: roundMode) }
      return try HostTensor(dtype: to, shape: x.shape, storage: ByteStorage(bytes))
    default:
      break
    }
    if to.isInteger && x.dtype != .string && !x.dtype.isFloatingPoint {
      // Integer to integer: exact and wrapping, past 2^53 too.
      return HostTensor(dtype: to, shape: x.shape, integers: x.int64s())
    }
    if to.isInteger && x.dtype == .string {
      let integers = x.strings.map { Int64($0.trimmingSpaces) }
      if integers.allSatisfy({ $0 != nil }) {
        return HostTensor(dtype: to, shape: x.shape, integers: integers.map { $0 ?? 0 })
      }
    }
    return HostTensor(dtype: to, shape: x.shape, converting: values)
  }

  /// Numbers parsed from strings: decimal and scientific forms, and "INF", "+INF", "-INF", "NaN"
  /// in any case.
  /// - Throws: "cannot parse 'abc' as a number".
  static func numbers(_ strings: [String]) throws -> [Double] {
    try strings.map { raw in
      let text = raw.trimmingSpaces
      switch text.uppercased() {
      case "INF", "+INF": return .infinity
      case "-INF": return -.infinity
      case "NAN", "+NAN", "-NAN": return .nan
      default:
        guard let value = Double(text) else {
          throw AttncError.invalid("cannot parse '\(raw)' as a number")
        }
        return value
      }
    }
  }

  /// Elements printed as strings: integers in decimal, float32 and float64 in their shortest
  /// round-tripping form (`0.1`, `1e-05`, `inf`).
  /// - Throws: `.unsupported` for other dtypes (bool, 16- and 8-bit floats).
  static func strings(_ x: HostTensor) throws -> [String] {
    if x.dtype.isInteger { return x.int64s().map { "\($0)" } }
    switch x.dtype {
    case .float: return x.doubles().map { "\(Float($0))" }
    case .double: return x.doubles().map { "\($0)" }
    default: throw AttncError.unsupported("casts from \(x.dtype) to string are not evaluated")
    }
  }

  /// The float8 bit pattern nearest to `x` (ties to the even pattern), following ONNX's tables:
  /// NaN stays NaN; out of range saturates to ±max, or without `saturate` becomes ±infinity
  /// (E5M2) or NaN (the other formats); the FNUZ formats have no -0.
  static func float8Pattern(_ x: Double, _ dtype: DType, saturate: Bool) -> UInt8 {
    let table = Element.float8Table(dtype)
    let unsignedZero = dtype == .float8e4m3fnuz || dtype == .float8e5m2fnuz
    let sign: UInt8 = x.sign == .minus ? 0x80 : 0
    // NaN patterns: 0x80 in the FNUZ formats, all ones (with the sign) in the others.
    let nan: UInt8 = unsignedZero ? 0x80 : 0x7F | sign
    if x.isNaN { return nan }
    // The positive finite patterns, 0x00…0x7F, in increasing order of value.
    let positives = (0..<0x80).filter { table[$0].isFinite }
    guard let largest = positives.last else { return nan }
    let magnitude = abs(x)
    let pattern: Int
    if magnitude.isInfinite {
      pattern = largest + 1
    } else {
      // The value one step above the largest, with its parity, decides rounding at the top.
      let step = table[largest] - table[largest - 1]
      pattern = nearestEven(
        magnitude, values: positives.map { table[$0] } + [table[largest] + step])
    }
    if pattern > largest {
      if saturate { return UInt8(largest) | sign }
      return dtype == .float8e5m2 ? 0x7C | sign : nan
    }
    if pattern == 0 && unsignedZero { return 0 }
    return UInt8(pattern) | sign
  }

  /// The float4e2m1 nibble nearest to `x` (ties to even), saturating at ±6; NaN becomes -0.
  static func float4Pattern(_ x: Double) -> UInt8 {
    if x.isNaN { return 0x8 }
    let sign: UInt8 = x.sign == .minus ? 0x8 : 0
    let magnitudes: [Double] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, 8]
    let pattern = abs(x).isInfinite ? 7 : min(7, nearestEven(abs(x), values: magnitudes))
    return UInt8(pattern) | sign
  }

  /// Index of the entry of the increasing `values` nearest to `x`, ties to the even index.
  static func nearestEven(_ x: Double, values: [Double]) -> Int {
    var best = 0
    for i in values.indices.dropFirst() {
      let distance = abs(values[i] - x)
      let bestDistance = abs(values[best] - x)
      if distance < bestDistance || (distance == bestDistance && i % 2 == 0) { best = i }
      if values[i] > x { break }
    }
    return best
  }

  /// The float8e8m0 pattern (a biased power-of-two exponent) of `x` as float32.
  ///
  /// It is the exponent
  /// field, incremented for `up` when any mantissa bit is set and for `nearest` when the value is
  /// at least halfway to the next power; with `saturate` never past 0xFE. NaN is 0xFF; infinity
  /// is 0xFE with `saturate`, else 0xFF. The sign is ignored (negative inputs are undefined).
  static func e8m0Pattern(_ x: Float, saturate: Bool, mode: RoundMode) -> UInt8 {
    if x.isNaN { return 0xFF }
    if x.isInfinite { return saturate ? 0xFE : 0xFF }
    let bits = x.bitPattern
    let exponent = (bits >> 23) & 0xFF
    let mantissa = bits & 0x7F_FFFF
    let roundUp: Bool
    switch mode {
    case .down:
      roundUp = false
    case .up:
      roundUp = mantissa != 0
    case .nearest:
      // Halfway bit set: round up, except for a float32 subnormal exactly at the half, whose
      // value 2^-127 is pattern 0 itself.
      let half = mantissa & 0x40_0000 != 0
      let below = mantissa & 0x3F_FFFF != 0
      roundUp = half && (below || exponent > 0)
    }
    if roundUp && !(saturate && exponent == 0xFE) { return UInt8(min(exponent + 1, 0xFF)) }
    return UInt8(exponent)
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
