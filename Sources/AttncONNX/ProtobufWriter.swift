/// The protobuf wire format, written: varints, fixed 32-bit floats and length-delimited fields
/// (strings, bytes, nested messages, packed repeated scalars). Nested messages are encoded into
/// their own writer first and appended with their length.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  private enum WireType: UInt64 {
    case varint = 0
    case lengthDelimited = 2
    case fixed32 = 5
  }

  private mutating func tag(_ field: Int, _ wire: WireType) { varint(UInt64(field) << 3 | wire.rawValue) }

  private mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  /// An int64/int32/enum field (negative values as ten-byte varints, as protobuf does).
  mutating func int(_ field: Int, _ value: Int64) {
    tag(field, .varint)
    varint(UInt64(bitPattern: value))
  }

  mutating func float(_ field: Int, _ value: Float) {
    tag(field, .fixed32)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }

  mutating func data(_ field: Int, _ value: [UInt8]) {
    tag(field, .lengthDelimited)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  mutating func data(_ field: Int, _ value: UnsafeRawBufferPointer) {
    tag(field, .lengthDelimited)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  mutating func message(_ field: Int, _ build: (inout ProtobufWriter) throws -> Void) rethrows {
    var inner = ProtobufWriter()
    try build(&inner)
    data(field, inner.bytes)
  }

  /// A packed repeated int64 field.
  mutating func packedInts(_ field: Int, _ values: [Int64]) {
    var inner = ProtobufWriter()
    for value in values { inner.varint(UInt64(bitPattern: value)) }
    data(field, inner.bytes)
  }

  /// A packed repeated float field.
  mutating func packedFloats(_ field: Int, _ values: [Float]) {
    var inner: [UInt8] = []
    inner.reserveCapacity(values.count * 4)
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { inner.append(contentsOf: $0) } }
    data(field, inner)
  }
}
