import AttncTensor
import AttncTestSupport
import Testing

@testable import AttncONNX

/// A serialized TensorProto named "w" with `dims` and `dataType`, plus whatever `fill` writes.
func tensorBytes(
  _ dataType: DType, dims: [Int64], _ fill: (inout ProtoWriter) -> Void = { _ in }
) -> [UInt8] {
  var tensor = ProtoWriter()
  tensor.packed(1, dims)
  tensor.int(2, Int64(dataType.rawValue))
  tensor.string(8, "w")
  fill(&tensor)
  return tensor.bytes
}

/// Decodes `bytes` as a TensorProto and converts it.
func host(_ bytes: [UInt8]) throws -> HostTensor {
  try decodeTensor(bytes).hostTensor(externalData: nil)
}

/// The message of the AttncError that converting `bytes` throws.
func conversionError(_ bytes: [UInt8]) -> String? {
  let error = #expect(throws: AttncError.self) { try host(bytes) }
  return error?.message
}

@Suite struct TensorDecodeTests {}

// MARK: - Typed fields

extension TensorDecodeTests {
  @Test func decodesPackedAndUnpackedFloatData() throws {
    let packed = try host(
      tensorBytes(.float, dims: [2, 2]) { $0.packed(4, floats: [1, -2, 3.5, 0]) })
    #expect(packed.shape == [2, 2])
    #expect(packed.floats() == [1, -2, 3.5, 0])

    // The same field written one element per tag (proto2 style) decodes the same.
    let unpacked = try host(
      tensorBytes(.float, dims: [2, 2]) { t in for v: Float in [1, -2, 3.5, 0] { t.float(4, v) } })
    #expect(unpacked.floats() == [1, -2, 3.5, 0])
  }

  @Test func decodesInt64AndDoubleAndUint64Data() throws {
    let int64s = try host(tensorBytes(.int64, dims: [3]) { $0.packed(7, [-1, 0, 1 << 40]) })
    #expect(int64s.int64s() == [-1, 0, 1 << 40])

    let doubles = try host(tensorBytes(.double, dims: [2]) { $0.packed(10, doubles: [0.25, -8]) })
    #expect(doubles.doubles() == [0.25, -8])

    let uint32s = try host(tensorBytes(.uint32, dims: [2]) { $0.packed(11, [7, 4_000_000_000]) })
    #expect(uint32s.storage.count == 8)
    #expect(uint32s.int64s() == [7, 4_000_000_000])

    let uint64s = try host(tensorBytes(.uint64, dims: [1]) { $0.packed(11, [5]) })
    #expect(uint64s.storage.count == 8)
  }

  @Test func decodesNarrowTypesFromInt32Data() throws {
    let int8s = try host(tensorBytes(.int8, dims: [3]) { $0.packed(5, [-128, 0, 127]) })
    #expect(Array(int8s.storage.bytes) == [0x80, 0x00, 0x7f])
    #expect(int8s.int64s() == [-128, 0, 127])

    let bools = try host(tensorBytes(.bool, dims: [2]) { $0.packed(5, [1, 0]) })
    #expect(Array(bools.storage.bytes) == [1, 0])

    // float16 1.0 and -2.0 as bit patterns in the low 16 bits.
    let halves = try host(tensorBytes(.float16, dims: [2]) { $0.packed(5, [0x3c00, 0xc000]) })
    #expect(Array(halves.storage.bytes) == [0x00, 0x3c, 0x00, 0xc0])
    #expect(halves.floats() == [1, -2])

    let int32s = try host(tensorBytes(.int32, dims: [2]) { $0.packed(5, [-5, 70_000]) })
    #expect(int32s.int64s() == [-5, 70_000])
  }

  @Test func decodesPackedSubByteTypesFromInt32Data() throws {
    // Five int4 elements [1, -1, 7, -8, 3]: three int32 values, each one packed byte.
    let int4s = try host(tensorBytes(.int4, dims: [5]) { $0.packed(5, [0xf1, 0x87, 0xf3]) })
    #expect(Array(int4s.storage.bytes) == [0xf1, 0x87, 0x03])  // unused high nibble cleared
    #expect(int4s.int64s() == [1, -1, 7, -8, 3])

    // Six uint2 elements: two values, four elements per byte.
    let uint2s = try host(
      tensorBytes(.uint2, dims: [6]) { $0.packed(5, [0b11_10_01_00, 0b10_01]) })
    #expect(uint2s.int64s() == [0, 1, 2, 3, 1, 2])

    let message = conversionError(tensorBytes(.uint4, dims: [4]) { $0.packed(5, [1, 2, 3, 4]) })
    #expect(message == "tensor 'w': dims [4] of uint4 need 2 values but int32_data has 4")
  }

  @Test func decodesComplexAndStrings() throws {
    let complex = try host(
      tensorBytes(.complex64, dims: [2]) { $0.packed(4, floats: [1, 2, 3, 4]) })
    #expect(complex.storage.count == 16)

    let strings = try host(
      tensorBytes(.string, dims: [2]) { t in
        t.bytes(6, Array("héllo".utf8))
        t.bytes(6, [])
      })
    #expect(strings.strings == ["héllo", ""])
  }

  @Test func decodesRawData() throws {
    var raw: [UInt8] = []
    for value: Float in [1, 2, 3] {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { raw += $0 }
    }
    let tensor = try host(tensorBytes(.float, dims: [3]) { $0.bytes(9, raw) })
    #expect(tensor.floats() == [1, 2, 3])
  }

  @Test func acceptsZeroElementTensors() throws {
    let empty = try host(tensorBytes(.float, dims: [0, 4]))
    #expect(empty.shape == [0, 4])
    #expect(empty.storage.count == 0)
    let emptyRaw = try host(tensorBytes(.int64, dims: [3, 0]) { $0.bytes(9, []) })
    #expect(emptyRaw.count == 0)
  }
}

// MARK: - Refusals

extension TensorDecodeTests {
  @Test func rejectsRawDataOfTheWrongSize() {
    let message = conversionError(
      tensorBytes(.float, dims: [4, 4]) { $0.bytes(9, .init(repeating: 0, count: 60)) })
    #expect(message == "tensor 'w': dims [4, 4] of float32 need 64 bytes but raw_data has 60")
  }

  @Test func rejectsHugeDeclaredSizesBeforeAllocating() {
    // 2^40 float elements backed by 8 bytes: refused by comparison, not by running out of memory.
    let huge = conversionError(
      tensorBytes(.float, dims: [1 << 20, 1 << 20]) { $0.bytes(9, [0, 0, 0, 0, 0, 0, 0, 0]) })
    #expect(
      huge
        == "tensor 'w': dims [1048576, 1048576] of float32 need 4398046511104 bytes but "
        + "raw_data has 8")

    let typed = conversionError(tensorBytes(.int64, dims: [1 << 40]) { $0.packed(7, [1, 2]) })
    #expect(
      typed
        == "tensor 'w': dims [1099511627776] of int64 need 1099511627776 values but "
        + "int64_data has 2")

    let overflow = conversionError(
      tensorBytes(.float, dims: [1 << 62, 1 << 62]) { $0.bytes(9, [0]) })
    #expect(
      overflow
        == "tensor 'w': dims [4611686018427387904, 4611686018427387904] overflow the element count")

    let bytesOverflow = conversionError(tensorBytes(.double, dims: [1 << 61]) { $0.bytes(9, [0]) })
    #expect(
      bytesOverflow == "tensor 'w': dims [2305843009213693952] of float64 overflow the byte count")
  }

  @Test func rejectsNegativeDims() {
    let message = conversionError(tensorBytes(.float, dims: [-1, 4]) { $0.bytes(9, [0, 0, 0, 0]) })
    #expect(message == "tensor 'w': dims [-1, 4] have a negative dim")
  }

  @Test func rejectsMissingData() {
    #expect(conversionError(tensorBytes(.float, dims: [2])) == "tensor 'w' has no data")
    #expect(
      conversionError(tensorBytes(.float, dims: [2]) { $0.bytes(9, []) }) == "tensor 'w' has no data"
    )
  }

  @Test func rejectsFieldsThatDoNotMatchTheType() {
    let message = conversionError(tensorBytes(.float, dims: [2]) { $0.packed(7, [1, 2]) })
    #expect(message == "tensor 'w': int64_data cannot hold float32 elements")
    let strings = conversionError(tensorBytes(.string, dims: [1]) { $0.bytes(9, [65]) })
    #expect(strings == "tensor 'w': string elements cannot be stored in raw_data")
    let count = conversionError(tensorBytes(.float, dims: [3]) { $0.packed(4, floats: [1, 2]) })
    #expect(count == "tensor 'w': dims [3] of float32 need 3 values but float_data has 2")
  }

  @Test func rejectsUnknownDataTypes() {
    var undefined = ProtoWriter()
    undefined.string(8, "w")
    #expect(conversionError(undefined.bytes) == "tensor 'w': tensor data type is UNDEFINED (0)")

    var future = ProtoWriter()
    future.string(8, "w")
    future.int(2, 77)
    let error = #expect(throws: AttncError.self) { try host(future.bytes) }
    #expect(error?.code == .unsupported)
    #expect(error?.message == "tensor 'w': unknown tensor data type 77")
  }

  @Test func rejectsExternalDataWithoutAModelFolder() {
    let bytes = tensorBytes(.float, dims: [2]) { t in
      t.message(13) {
        $0.string(1, "location"); $0.string(2, "weights.bin")
      }
      t.int(14, 1)
    }
    #expect(
      conversionError(bytes)
        == "tensor 'w' stores its data externally, but the model's folder is unknown")
  }

  @Test func rejectsTruncatedTensor() {
    let bytes = tensorBytes(.float, dims: [2]) { $0.packed(4, floats: [1, 2]) }
    let error = #expect(throws: AttncError.self) { try decodeTensor(Array(bytes.dropLast(3))) }
    #expect(
      error?.message
        == "not a valid ONNX tensor: protobuf decoding failed (truncated or corrupted file)")
  }
}
