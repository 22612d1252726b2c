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
    let e4m3 = Element.float8Table(.float8e4m3fn)
    #expect(e4m3[0x7E] == 448)  // largest finite
    #expect(e4m3[0x7F].isNaN)
    #expect(e4m3[0x01] == 1.0 / 512)  // smallest subnormal 2^-9
    let e5m2 = Element.float8Table(.float8e5m2)
    #expect(e5m2[0x7B] == 57344)
    #expect(e5m2[0x7C] == .infinity)
    let fnuz = Element.float8Table(.float8e4m3fnuz)
    #expect(fnuz[0x80].isNaN)
    #expect(fnuz[0x7F] == 240)
  }

  @Test func float8EncodingSaturates() {
    let t = HostTensor(dtype: .float8e4m3fn, shape: [3], converting: [1000, -1000, 1.0])
    #expect(t.doubles() == [448, -448, 1.0])
  }

  @Test func refusesMismatchedStorage() {
    #expect(throws: AttncError.invalid("data has 3 bytes but dims [2] of float32 need 8")) {
      try HostTensor(dtype: .float, shape: [2], storage: ByteStorage([1, 2, 3]))
    }
  }
}
