/// The protobuf wire format, written: varints, fixed 32/64-bit numbers and length-delimited
/// fields (strings, bytes, nested messages, packed repeated scalars). A nested message is encoded
/// into its own writer first and appended with its length. `ONNXExport` writes models with it;
/// tests build ONNX files with it, malformed ones included (field numbers are the caller's).
public struct ProtobufWriter {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  public mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  /// A field's key: `field << 3 | wireType` (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
  public mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

  /// An int32/int64/enum/bool field (negative values as ten-byte varints, as protobuf does).
  public mutating func int(_ field: Int, _ value: Int64) {
    tag(field, 0)
    varint(UInt64(bitPattern: value))
  }

  public mutating func float(_ field: Int, _ value: Float) {
    tag(field, 5)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  public mutating func double(_ field: Int, _ value: Double) {
    tag(field, 1)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  public mutating func string(_ field: Int, _ text: String) { bytes(field, Array(text.utf8)) }

  /// A length-delimited field: bytes, a string's UTF-8 or a serialized message.
  public mutating func bytes(_ field: Int, _ data: [UInt8]) {
    tag(field, 2)
    varint(UInt64(data.count))
    bytes.append(contentsOf: data)
  }

  /// A length-delimited field from memory (tensor data).
  public mutating func bytes(_ field: Int, _ data: UnsafeRawBufferPointer) {
    tag(field, 2)
    varint(UInt64(data.count))
    bytes.append(contentsOf: data)
  }

  public mutating func message(_ field: Int, _ build: (inout ProtobufWriter) throws -> Void) rethrows {
    var inner = ProtobufWriter()
    try build(&inner)
    bytes(field, inner.bytes)
  }

  /// A packed repeated varint field (int32, int64, uint64).
  public mutating func packed(_ field: Int, _ values: [Int64]) {
    var inner = ProtobufWriter()
    for value in values { inner.varint(UInt64(bitPattern: value)) }
    bytes(field, inner.bytes)
  }

  /// A packed repeated float field.
  public mutating func packed(_ field: Int, floats values: [Float]) {
    var payload: [UInt8] = []
    payload.reserveCapacity(values.count * 4)
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
    bytes(field, payload)
  }

  /// A packed repeated double field.
  public mutating func packed(_ field: Int, doubles values: [Double]) {
    var payload: [UInt8] = []
    payload.reserveCapacity(values.count * 8)
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
    bytes(field, payload)
  }
}
