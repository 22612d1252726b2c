import AttncTensor
import AttncTestSupport
import Testing

/// The wire-format pre-scan that `AttncONNX` and `AttncRuntime` run before protobuf-c: nesting
/// depth against the limit, and the framing errors it must refuse.
@Suite struct ProtobufNestingTests {
  /// A schema of one kind whose field 1 holds a message of the same kind; other fields are
  /// scalars or opaque bytes.
  static func recursive(_ kind: Int, _ field: UInt64) -> Int? { field == 1 ? kind + 1 : nil }

  static func scan(_ bytes: [UInt8], limit: Int = 100) -> ProtobufNesting.Outcome {
    bytes.withUnsafeBytes { ProtobufNesting.scan($0, root: 1, limit: limit, child: recursive) }
  }

  /// A message `levels` deep (the root is level 1): each level wraps the next in field 1, the
  /// innermost holds the scalar field 2 = 7.
  /// Built outside in, in O(levels), so that very deep messages stay cheap.
  static func nested(levels: Int) -> [UInt8] {
    var innermost = ProtoWriter()
    innermost.int(2, 7)
    // Each header opens a field 1 around everything built so far; they are written outermost first.
    var headers: [[UInt8]] = []
    var length = innermost.bytes.count
    for _ in 1..<levels {
      var header = ProtoWriter()
      header.varint(1 << 3 | 2)
      header.varint(UInt64(length))
      headers.append(header.bytes)
      length += header.bytes.count
    }
    return headers.reversed().flatMap { $0 } + innermost.bytes
  }
}

// MARK: - Depth

extension ProtobufNestingTests {
  @Test(arguments: [1, 2, 5, 64, 100])
  func acceptsNestingUpToTheLimit(levels: Int) {
    #expect(Self.scan(Self.nested(levels: levels), limit: levels) == .ok)
    #expect(Self.scan(Self.nested(levels: levels + 1), limit: levels) == .tooDeep)
  }

  @Test func countsDepthNotSiblings() {
    // Many messages side by side at level 2 are not deep.
    var root = ProtoWriter()
    for _ in 0..<1000 { root.bytes(1, Self.nested(levels: 1)) }
    #expect(Self.scan(root.bytes, limit: 2) == .ok)
  }

  @Test func scansAHostileDepthWithoutRecursing() {
    // Deeper than any call stack would allow if the scan recursed per level.
    #expect(Self.scan(Self.nested(levels: 200_000), limit: 100) == .tooDeep)
  }

  @Test func fieldsThatAreNotMessagesAreSkippedUnread() {
    let deep = Self.nested(levels: 300)
    let opaque = deep.withUnsafeBytes { bytes in
      ProtobufNesting.scan(bytes, root: 0, limit: 2) { _, _ in nil as Int? }
    }
    #expect(opaque == .ok)
    // Garbage inside a skipped field is not looked at; inside a message field it is.
    var skipped = ProtoWriter()
    skipped.bytes(3, [0xff, 0xff])
    #expect(Self.scan(skipped.bytes) == .ok)
    var descended = ProtoWriter()
    descended.bytes(1, [0xff, 0xff])
    #expect(Self.scan(descended.bytes) == .malformed)
  }

  @Test func emptyInputIsAnEmptyMessage() {
    #expect(Self.scan([]) == .ok)
  }
}

// MARK: - Framing errors

extension ProtobufNestingTests {
  @Test func refusesTruncatedVarints() {
    #expect(Self.scan([0x80]) == .malformed)  // a tag cut off
    #expect(Self.scan([0x10]) == .malformed)  // field 2, varint value missing
    #expect(Self.scan([0x10, 0x80]) == .malformed)  // value cut off after a continuation byte
    #expect(Self.scan([0x1a]) == .malformed)  // field 3, length missing
    #expect(Self.scan([0x1a, 0x81]) == .malformed)  // length cut off
  }

  @Test func readsVarintsOfUpToTenBytes() {
    let tenBytes: [UInt8] = [0x10] + [UInt8](repeating: 0xff, count: 9) + [0x01]
    #expect(Self.scan(tenBytes) == .ok)
    let elevenBytes: [UInt8] = [0x10] + [UInt8](repeating: 0xff, count: 10) + [0x01]
    #expect(Self.scan(elevenBytes) == .malformed)
  }

  @Test(arguments: [3, 4, 6, 7])
  func refusesGroupsAndUnknownWireTypes(wireType: UInt8) {
    let bytes: [UInt8] = [2 << 3 | wireType, 0, 0, 0, 0, 0, 0, 0, 0]
    #expect(Self.scan(bytes) == .malformed)
  }

  @Test func readsFixedWidthFieldsAndRefusesThemCutOff() {
    let fixed64: UInt8 = 2 << 3 | 1
    let fixed32: UInt8 = 2 << 3 | 5
    #expect(Self.scan([fixed64] + [UInt8](repeating: 0, count: 8)) == .ok)
    #expect(Self.scan([fixed64] + [UInt8](repeating: 0, count: 7)) == .malformed)
    #expect(Self.scan([fixed32] + [UInt8](repeating: 0, count: 4)) == .ok)
    #expect(Self.scan([fixed32] + [UInt8](repeating: 0, count: 3)) == .malformed)
  }

  @Test func refusesFieldNumberZero() {
    #expect(Self.scan([0x00, 0x01]) == .malformed)
  }

  @Test func refusesLengthsPastTheEnd() {
    #expect(Self.scan([0x1a, 0x05, 1, 2]) == .malformed)  // bytes field
    #expect(Self.scan([0x0a, 0x05, 0x10, 0x01]) == .malformed)  // message field
    let hugeLength: [UInt8] = [0x1a] + [UInt8](repeating: 0xff, count: 9) + [0x01]  // 2⁶⁴ − 1
    #expect(Self.scan(hugeLength) == .malformed)
  }

  @Test func aNestedFieldMayNotRunPastItsOwnMessage() {
    // Field 1 holds 4 bytes; inside them a bytes field claims 5, which the root still has.
    let bytes: [UInt8] = [0x0a, 0x04, 0x1a, 0x05, 1, 2, 3, 4, 5, 6]
    #expect(Self.scan(bytes) == .malformed)
  }
}
