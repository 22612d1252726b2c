/// Element encodings: unpacking any ONNX dtype's little-endian bytes to Double or Int64 and packing
/// back, including 16-bit, 8-bit and 4-bit floats and packed 4- and 2-bit integers.
public enum Element {
  // MARK: - Decoding

  /// Decodes `count` elements of `dtype` from `bytes` to Double.
  public static func unpackDoubles(_ bytes: UnsafeRawBufferPointer, _ dtype: DType, count: Int)
    -> [Double]
  {
    var out = [Double](repeating: 0, count: count)
    guard count > 0 else { return out }
    switch dtype {
    case .float: for i in 0..<count { out[i] = Double(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)) }
    case .double: for i in 0..<count { out[i] = bytes.loadUnaligned(fromByteOffset: 8 * i, as: Double.self) }
    case .float16:
      for i in 0..<count { out[i] = Double(halfToFloat(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .bfloat16:
      for i in 0..<count {
        let bits = UInt32(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
        out[i] = Double(Float(bitPattern: bits))
      }
    case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
      for i in 0..<count { out[i] = NarrowFloat.value(bytes[i], dtype) }
    case .float4e2m1:
      for i in 0..<count { out[i] = NarrowFloat.value(nibble(bytes, i), dtype) }
    case .complex64, .complex128, .string:
      break  // not numeric; callers reject these before reading
    default:
      let ints = unpackIntegers(bytes, dtype, count: count)
      for i in 0..<count { out[i] = dtype == .uint64 ? Double(UInt64(bitPattern: ints[i])) : Double(ints[i]) }
    }
    return out
  }

  /// Decodes `count` elements of `dtype` to Int64 (floats truncated toward zero, NaN to 0;
  /// uint64 reinterpreted bit for bit).
  public static func unpackIntegers(_ bytes: UnsafeRawBufferPointer, _ dtype: DType, count: Int)
    -> [Int64]
  {
    var out = [Int64](repeating: 0, count: count)
    guard count > 0 else { return out }
    switch dtype {
    case .int64, .uint64: for i in 0..<count { out[i] = bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self) }
    case .int32: for i in 0..<count { out[i] = Int64(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
    case .uint32: for i in 0..<count { out[i] = Int64(bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
    case .int16: for i in 0..<count { out[i] = Int64(bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
    case .uint16: for i in 0..<count { out[i] = Int64(bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
    case .int8: for i in 0..<count { out[i] = Int64(Int8(bitPattern: bytes[i])) }
    case .uint8, .bool: for i in 0..<count { out[i] = Int64(bytes[i]) }
    case .int4: for i in 0..<count { out[i] = Int64((Int8(bitPattern: nibble(bytes, i) << 4)) >> 4) }
    case .uint4: for i in 0..<count { out[i] = Int64(nibble(bytes, i)) }
    case .int2: for i in 0..<count { out[i] = Int64((Int8(bitPattern: crumb(bytes, i) << 6)) >> 6) }
    case .uint2: for i in 0..<count { out[i] = Int64(crumb(bytes, i)) }
    default:
      let values = unpackDoubles(bytes, dtype, count: count)
      for i in 0..<count {
        let v = values[i]
        out[i] = v.isNaN ? 0 : (v >= 9.2e18 ? Int64.max : (v <= -9.2e18 ? Int64.min : Int64(v)))
      }
    }
    return out
  }

  @inline(__always) static func nibble(_ bytes: UnsafeRawBufferPointer, _ i: Int) -> UInt8 {
    let byte = bytes[i / 2]
    return i % 2 == 0 ? byte & 0x0F : byte >> 4
  }

  @inline(__always) static func crumb(_ bytes: UnsafeRawBufferPointer, _ i: Int) -> UInt8 {
    (bytes[i / 4] >> UInt8(2 * (i % 4))) & 0x03
  }

  /// IEEE binary16 bits to Float.
  public static func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
      let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
      return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 {
      return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
  }

  /// Float to IEEE binary16 bits, round to nearest even, overflow to infinity.
  public static func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    if f.isNaN { return sign | 0x7E00 }
    let magnitude = abs(f)
    if magnitude >= 65520 { return sign | 0x7C00 }
    if magnitude < Float(sign: .plus, exponent: -14, significand: 1) {
      // Subnormal: value = m * 2^-24, m rounded to nearest even.
      let m = (magnitude * Float(sign: .plus, exponent: 24, significand: 1)).rounded(.toNearestOrEven)
      return sign | UInt16(m)
    }
    let exponent = Int((bits >> 23) & 0xFF) - 127 + 15
    var mantissa = bits & 0x7F_FFFF
    var e = UInt32(exponent)
    let remainder = mantissa & 0x1FFF
    mantissa >>= 13
    if remainder > 0x1000 || (remainder == 0x1000 && mantissa & 1 == 1) {
      mantissa += 1
      if mantissa == 0x400 {
        mantissa = 0
        e += 1
      }
    }
    return sign | UInt16(e << 10) | UInt16(mantissa)
  }

  /// Float to bfloat16 bits, round to nearest even.
  public static func floatToBFloat16(_ f: Float) -> UInt16 {
    if f.isNaN { return 0x7FC0 | UInt16((f.bitPattern >> 16) & 0x8000) }
    let bits = f.bitPattern
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
  }

  // MARK: - Encoding

  /// Packs doubles as `dtype`: integers truncate toward zero and wrap like a C cast; bool is
  /// `x != 0`; floats round to nearest even.
  ///
  /// The 8- and 4-bit floats follow `NarrowFloat.encode` with `saturate` and `rounding`. The
  /// defaults store a result the way IEEE arithmetic does, and keep every value the format holds
  /// (infinity included) unchanged: out of range becomes infinity, or NaN where the format has
  /// none (float4e2m1, having neither, saturates), and float8e8m0 rounds to the nearest power of
  /// two. ONNX Cast's defaults are `saturate: true, rounding: .up`; the Cast op passes its own.
  public static func pack(
    _ values: [Double], as dtype: DType, saturate: Bool = false,
    rounding: NarrowFloat.Rounding = .nearest
  ) -> [UInt8] {
    switch dtype {
    case .float: return bytesOf(values.map { Float($0) })
    case .double: return bytesOf(values)
    case .float16: return bytesOf(values.map { floatToHalf(Float($0)) })
    case .bfloat16: return bytesOf(values.map { floatToBFloat16(Float($0)) })
    case .bool: return values.map { $0 != 0 ? 1 : 0 }
    case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0:
      return values.map { NarrowFloat.encode($0, as: dtype, saturate: saturate, rounding: rounding) }
    case .float4e2m1:
      return packNibbles(values.map { NarrowFloat.encode($0, as: dtype, saturate: saturate) })
    case .string, .complex64, .complex128: return []
    default:
      return pack(integers: values.map { v in
        v.isNaN ? 0 : (v >= 9.2e18 ? Int64.max : (v <= -9.2e18 ? Int64.min : Int64(v)))
      }, as: dtype)
    }
  }

  /// Packs Int64s as an integer or bool `dtype`, wrapping to the width; floats are converted.
  public static func pack(integers values: [Int64], as dtype: DType) -> [UInt8] {
    switch dtype {
    case .int64, .uint64: return bytesOf(values)
    case .int32, .uint32: return bytesOf(values.map { UInt32(truncatingIfNeeded: $0) })
    case .int16, .uint16: return bytesOf(values.map { UInt16(truncatingIfNeeded: $0) })
    case .int8, .uint8: return values.map { UInt8(truncatingIfNeeded: $0) }
    case .bool: return values.map { $0 != 0 ? 1 : 0 }
    case .int4, .uint4: return packNibbles(values.map { UInt8(truncatingIfNeeded: $0) & 0xF })
    case .int2, .uint2:
      var out = [UInt8](repeating: 0, count: (values.count + 3) / 4)
      for (i, v) in values.enumerated() {
        out[i / 4] |= (UInt8(truncatingIfNeeded: v) & 0x3) << UInt8(2 * (i % 4))
      }
      return out
    default: return pack(values.map { Double($0) }, as: dtype)
    }
  }

  private static func packNibbles(_ nibbles: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: (nibbles.count + 1) / 2)
    for (i, n) in nibbles.enumerated() { out[i / 2] |= i % 2 == 0 ? n & 0xF : (n & 0xF) << 4 }
    return out
  }

  private static func bytesOf<T: BitwiseCopyable>(_ values: [T]) -> [UInt8] {
    values.withUnsafeBytes { Array($0) }
  }
}
