import AttncTensor
import Testing

@Suite struct ElementTests {
  @Test(arguments: [DType.float, .double, .float16, .bfloat16, .int8, .uint8, .int16, .uint16,
                    .int32, .uint32, .int64, .bool, .int4, .uint4, .int2, .uint2])
  func roundTripsSmallIntegers(dtype: DType) {
    let values: [Double] = dtype == .bool ? [0, 1, 1, 0] : (dtype.isSignedInteger || dtype.isFloatingPoint ? [-1, 0, 1, -2] : [0, 1, 2, 3])
    let tensor = HostTensor(dtype: dtype, shape: [4], converting: values)
    #expect(tensor.storage.count == dtype.byteCount(elements: 4))
    #expect(tensor.doubles() == values)
  }

  @Test func halfPrecisionRoundsToNearestEven() {
    #expect(Element.floatToHalf(1.0) == 0x3C00)
    #expect(Element.floatToHalf(65504) == 0x7BFF)
    #expect(Element.floatToHalf(1e6) == 0x7C00)
    #expect(Element.halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
    // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
    #expect(Element.floatToHalf(1 + Float(sign: .plus, exponent: -11, significand: 1)) == 0x3C00)
  }

  @Test func float8FormatsDecode() {
    #expect(NarrowFloat.value(0x7E, .float8e4m3fn) == 448)  // largest finite
    #expect(NarrowFloat.value(0x7F, .float8e4m3fn).isNaN)
    #expect(NarrowFloat.value(0x01, .float8e4m3fn) == 1.0 / 512)  // smallest subnormal 2^-9
    #expect(NarrowFloat.value(0x80, .float8e4m3fn).sign == .minus)
    #expect(NarrowFloat.value(0x7B, .float8e5m2) == 57344)
    #expect(NarrowFloat.value(0x7C, .float8e5m2) == .infinity)
    #expect(NarrowFloat.value(0xFC, .float8e5m2) == -.infinity)
    #expect(NarrowFloat.value(0x7D, .float8e5m2).isNaN)
    #expect(NarrowFloat.value(0x80, .float8e4m3fnuz).isNaN)
    #expect(NarrowFloat.value(0x7F, .float8e4m3fnuz) == 240)
    #expect(NarrowFloat.value(0x01, .float8e4m3fnuz) == 1.0 / 1024)
    #expect(NarrowFloat.value(0x7F, .float8e5m2fnuz) == 57344)
    #expect(NarrowFloat.value(0x80, .float8e5m2fnuz).isNaN)
    #expect((0..<16).map { NarrowFloat.value(UInt8($0), .float4e2m1) }
      == [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6])
    #expect(NarrowFloat.value(0x00, .float8e8m0) == Double(sign: .plus, exponent: -127, significand: 1))
    #expect(NarrowFloat.value(0x7F, .float8e8m0) == 1)
    #expect(NarrowFloat.value(0xFE, .float8e8m0) == Double(sign: .plus, exponent: 127, significand: 1))
    #expect(NarrowFloat.value(0xFF, .float8e8m0).isNaN)
  }

  /// One value encoded in a narrow format, checked bit for bit against ONNX Cast's tables.
  struct EncodeCase: Sendable, CustomTestStringConvertible {
    var dtype: DType
    var value: Double
    var saturated: UInt8
    var unsaturated: UInt8
    var testDescription: String { "\(value) to \(dtype)" }
  }

  static let nan = Double.nan
  static let inf = Double.infinity

  /// Per format: ±0, NaN, ±infinity, overflow, round-to-nearest-even ties and subnormals.
  static let encodeCases: [EncodeCase] = [
    // E4M3FN: largest 448 (0x7E), NaN 0x7F/0xFF, no infinity.
    EncodeCase(dtype: .float8e4m3fn, value: 0, saturated: 0x00, unsaturated: 0x00),
    EncodeCase(dtype: .float8e4m3fn, value: -0.0, saturated: 0x80, unsaturated: 0x80),
    EncodeCase(dtype: .float8e4m3fn, value: nan, saturated: 0x7F, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e4m3fn, value: -nan, saturated: 0xFF, unsaturated: 0xFF),
    EncodeCase(dtype: .float8e4m3fn, value: inf, saturated: 0x7E, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e4m3fn, value: -inf, saturated: 0xFE, unsaturated: 0xFF),
    EncodeCase(dtype: .float8e4m3fn, value: 1e6, saturated: 0x7E, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e4m3fn, value: 464, saturated: 0x7E, unsaturated: 0x7E),  // tie to even 448
    EncodeCase(dtype: .float8e4m3fn, value: 465, saturated: 0x7E, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e4m3fn, value: 1.0625, saturated: 0x38, unsaturated: 0x38),  // tie: 1
    EncodeCase(dtype: .float8e4m3fn, value: 1.1875, saturated: 0x3A, unsaturated: 0x3A),  // tie: 1.25
    EncodeCase(dtype: .float8e4m3fn, value: 0.4789254, saturated: 0x2F, unsaturated: 0x2F),
    EncodeCase(dtype: .float8e4m3fn, value: 0x1p-10, saturated: 0x00, unsaturated: 0x00),  // tie: 0
    EncodeCase(dtype: .float8e4m3fn, value: 0x3p-10, saturated: 0x02, unsaturated: 0x02),  // tie: 2^-8
    EncodeCase(dtype: .float8e4m3fn, value: -1e-7, saturated: 0x80, unsaturated: 0x80),
    // E4M3FNUZ: largest 240 (0x7F), NaN 0x80 only, no -0.
    EncodeCase(dtype: .float8e4m3fnuz, value: -0.0, saturated: 0x00, unsaturated: 0x00),
    EncodeCase(dtype: .float8e4m3fnuz, value: -nan, saturated: 0x80, unsaturated: 0x80),
    EncodeCase(dtype: .float8e4m3fnuz, value: inf, saturated: 0x7F, unsaturated: 0x80),
    EncodeCase(dtype: .float8e4m3fnuz, value: -inf, saturated: 0xFF, unsaturated: 0x80),
    EncodeCase(dtype: .float8e4m3fnuz, value: 248, saturated: 0x7F, unsaturated: 0x80),  // tie: 256
    EncodeCase(dtype: .float8e4m3fnuz, value: 247, saturated: 0x7F, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e4m3fnuz, value: -1e-7, saturated: 0x00, unsaturated: 0x00),
    EncodeCase(dtype: .float8e4m3fnuz, value: 0x1p-10, saturated: 0x01, unsaturated: 0x01),
    // E5M2: largest 57344 (0x7B), infinity 0x7C, NaN 0x7F.
    EncodeCase(dtype: .float8e5m2, value: -0.0, saturated: 0x80, unsaturated: 0x80),
    EncodeCase(dtype: .float8e5m2, value: nan, saturated: 0x7F, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e5m2, value: inf, saturated: 0x7B, unsaturated: 0x7C),
    EncodeCase(dtype: .float8e5m2, value: -inf, saturated: 0xFB, unsaturated: 0xFC),
    EncodeCase(dtype: .float8e5m2, value: 61000, saturated: 0x7B, unsaturated: 0x7B),
    EncodeCase(dtype: .float8e5m2, value: 61440, saturated: 0x7B, unsaturated: 0x7C),  // tie: 65536
    EncodeCase(dtype: .float8e5m2, value: -1e6, saturated: 0xFB, unsaturated: 0xFC),
    EncodeCase(dtype: .float8e5m2, value: 1.125, saturated: 0x3C, unsaturated: 0x3C),  // tie: 1
    EncodeCase(dtype: .float8e5m2, value: 1.375, saturated: 0x3E, unsaturated: 0x3E),  // tie: 1.5
    EncodeCase(dtype: .float8e5m2, value: 0x1p-16, saturated: 0x01, unsaturated: 0x01),
    // E5M2FNUZ: largest 57344 (0x7F), NaN 0x80 only, no -0.
    EncodeCase(dtype: .float8e5m2fnuz, value: -0.0, saturated: 0x00, unsaturated: 0x00),
    EncodeCase(dtype: .float8e5m2fnuz, value: nan, saturated: 0x80, unsaturated: 0x80),
    EncodeCase(dtype: .float8e5m2fnuz, value: inf, saturated: 0x7F, unsaturated: 0x80),
    EncodeCase(dtype: .float8e5m2fnuz, value: 61440, saturated: 0x7F, unsaturated: 0x80),  // tie: 65536
    EncodeCase(dtype: .float8e5m2fnuz, value: -1e6, saturated: 0xFF, unsaturated: 0x80),
    EncodeCase(dtype: .float8e5m2fnuz, value: 0x1p-17, saturated: 0x01, unsaturated: 0x01),
    // float4e2m1: no infinity or NaN, always saturates at ±6; NaN becomes -0.
    EncodeCase(dtype: .float4e2m1, value: -0.0, saturated: 0x8, unsaturated: 0x8),
    EncodeCase(dtype: .float4e2m1, value: nan, saturated: 0x8, unsaturated: 0x8),
    EncodeCase(dtype: .float4e2m1, value: inf, saturated: 0x7, unsaturated: 0x7),
    EncodeCase(dtype: .float4e2m1, value: -inf, saturated: 0xF, unsaturated: 0xF),
    EncodeCase(dtype: .float4e2m1, value: 7, saturated: 0x7, unsaturated: 0x7),
    EncodeCase(dtype: .float4e2m1, value: 0.25, saturated: 0x0, unsaturated: 0x0),  // tie: 0
    EncodeCase(dtype: .float4e2m1, value: 0.75, saturated: 0x2, unsaturated: 0x2),  // tie: 1
    EncodeCase(dtype: .float4e2m1, value: 2.5, saturated: 0x4, unsaturated: 0x4),  // tie: 2
    EncodeCase(dtype: .float4e2m1, value: 5, saturated: 0x6, unsaturated: 0x6),  // tie: 4
    EncodeCase(dtype: .float4e2m1, value: -3.5, saturated: 0xE, unsaturated: 0xE),  // tie: -4
    // float8e8m0 (round_mode up): NaN 0xFF; infinity 0xFE saturated, else 0xFF.
    EncodeCase(dtype: .float8e8m0, value: nan, saturated: 0xFF, unsaturated: 0xFF),
    EncodeCase(dtype: .float8e8m0, value: inf, saturated: 0xFE, unsaturated: 0xFF),
    EncodeCase(dtype: .float8e8m0, value: 0, saturated: 0x00, unsaturated: 0x00),
    EncodeCase(dtype: .float8e8m0, value: 0.124, saturated: 0x7C, unsaturated: 0x7C),
    EncodeCase(dtype: .float8e8m0, value: 1, saturated: 0x7F, unsaturated: 0x7F),
    EncodeCase(dtype: .float8e8m0, value: 1.1, saturated: 0x80, unsaturated: 0x80),
    EncodeCase(dtype: .float8e8m0, value: 0x1.8p127, saturated: 0xFE, unsaturated: 0xFF),
  ]

  @Test(arguments: encodeCases) func narrowFloatEncoding(_ c: EncodeCase) {
    #expect(NarrowFloat.encode(c.value, as: c.dtype, saturate: true) == c.saturated)
    #expect(NarrowFloat.encode(c.value, as: c.dtype, saturate: false) == c.unsaturated)
  }

  @Test func e8m0RoundModes() {
    func encode(_ x: Double, _ rounding: NarrowFloat.Rounding) -> UInt8 {
      NarrowFloat.encode(x, as: .float8e8m0, saturate: true, rounding: rounding)
    }
    #expect([1.9, 1.5, 1.4, 1.0].map { encode($0, .down) } == [0x7F, 0x7F, 0x7F, 0x7F])
    #expect([1.9, 1.5, 1.4, 1.0].map { encode($0, .up) } == [0x80, 0x80, 0x80, 0x7F])
    // Nearest in value; 1.5 is exactly halfway between 1 and 2 and goes up.
    #expect([1.9, 1.5, 1.4, 1.0].map { encode($0, .nearest) } == [0x80, 0x80, 0x7F, 0x7F])
    // Float32 subnormals round by value: 2^-127 is pattern 0, 2^-126 pattern 1.
    #expect(encode(0x1p-127, .up) == 0x00)
    #expect(encode(0x1.2p-127, .up) == 0x01)
    #expect(encode(0x1.4p-127, .nearest) == 0x00)
    #expect(encode(0x1.8p-127, .nearest) == 0x01)
    #expect(encode(0x1p-140, .up) == 0x00)
  }

  @Test(arguments: [DType.float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1, .float8e8m0])
  func everyPatternRoundTrips(dtype: DType) {
    for pattern in 0..<(dtype == .float4e2m1 ? 16 : 256) {
      let value = NarrowFloat.value(UInt8(pattern), dtype)
      if value.isNaN { continue }
      #expect(NarrowFloat.encode(value, as: dtype, saturate: false, rounding: .nearest) == UInt8(pattern))
      if value.isFinite {
        #expect(NarrowFloat.encode(value, as: dtype, saturate: true, rounding: .up) == UInt8(pattern))
      }
    }
  }

  @Test func packKeepsValuesAndOverflowsByDefault() {
    // Element.pack's defaults keep every value of the format, infinity included.
    let e5m2 = HostTensor(dtype: .float8e5m2, shape: [3], converting: [.infinity, -57344, 1e6])
    #expect(e5m2.doubles() == [.infinity, -57344, .infinity])
    let e4m3 = HostTensor(dtype: .float8e4m3fn, shape: [3], converting: [448, -1000, 1.0])
    #expect(e4m3.doubles()[0] == 448 && e4m3.doubles()[1].isNaN && e4m3.doubles()[2] == 1)
    // Cast's defaults saturate.
    let saturated = Element.pack([1000, -.infinity, 1.0], as: .float8e4m3fn, saturate: true, rounding: .up)
    #expect(saturated == [0x7E, 0xFE, 0x38])
  }

  @Test func refusesMismatchedStorage() {
    #expect(throws: AttncError.invalid("data has 3 bytes but dims [2] of float32 need 8")) {
      try HostTensor(dtype: .float, shape: [2], storage: ByteStorage([1, 2, 3]))
    }
  }
}
