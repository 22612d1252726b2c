/// A pass over protobuf wire-format bytes that measures how deeply messages nest, run before
/// protobuf-c (which recurses once per level and has no limit of its own) unpacks them.
///
/// The scan walks the bytes with an explicit stack, so a hostile file cannot exhaust the call
/// stack here either. The wire format does not say which length-delimited fields are messages,
/// so the caller describes its schema with `child`: the message kind held by a field, or nil for
/// strings, bytes, packed numbers, messages with no message fields, and unknown fields. Fields
/// for which `child` returns nil are skipped whole, unread. Used by `AttncONNX` (onnx.proto) and
/// `AttncRuntime` (plan.proto).
public enum ProtobufNesting {
  /// What a scan found.
  public enum Outcome: Equatable, Sendable {
    /// Well framed, and no message nests deeper than the limit.
    case ok
    /// A framing error: a varint longer than 10 bytes or cut off by the end of its message, a
    /// field number 0, a length or fixed-size value past the end of its message, or a wire type
    /// other than 0 (varint), 1 (fixed64), 2 (length-delimited) and 5 (fixed32) — groups (3, 4)
    /// included, as protobuf-c refuses those too.
    case malformed
    /// Some message sits deeper than `limit` levels (the root message is level 1).
    case tooDeep
  }

  /// Walks `bytes` as one `root` message.
  ///
  /// - Parameters:
  ///   - bytes: the serialized message.
  ///   - root: the kind of the outermost message.
  ///   - limit: the deepest level allowed; the root is level 1, a message field of the root
  ///     level 2. A limit below 1 refuses every input that has a descended-into field.
  ///   - child: the kind of message that field number `field` of a `kind` message holds, or nil
  ///     when the field is not a message to descend into.
  /// - Returns: `.malformed` at the first framing error, `.tooDeep` at the first message past
  ///   `limit`, else `.ok`. A length-delimited field that `child` calls a message but whose
  ///   length runs past its parent's end is reported as `.malformed`.
  /// - Complexity: O(n) in `bytes.count`; memory O(depth).
  @inlinable
  public static func scan<Kind>(
    _ bytes: UnsafeRawBufferPointer, root: Kind, limit: Int, child: (Kind, UInt64) -> Kind?
  ) -> Outcome {
    var stack: [(kind: Kind, end: Int)] = [(root, bytes.count)]
    var position = 0
    while let top = stack.last {
      if position == top.end {
        stack.removeLast()
        continue
      }
      guard let tag = varint(bytes, &position, end: top.end), tag >> 3 != 0 else {
        return .malformed
      }
      let size: UInt64
      switch tag & 7 {
      case 0:
        guard varint(bytes, &position, end: top.end) != nil else { return .malformed }
        continue
      case 1: size = 8
      case 5: size = 4
      case 2:
        guard let length = varint(bytes, &position, end: top.end) else { return .malformed }
        size = length
        if let kind = child(top.kind, tag >> 3), length <= UInt64(top.end - position) {
          guard stack.count < limit else { return .tooDeep }
          stack.append((kind, position + Int(length)))
          continue
        }
      default: return .malformed
      }
      guard size <= UInt64(top.end - position) else { return .malformed }
      position += Int(size)
    }
    return .ok
  }

  /// Reads a base-128 varint at `position` and moves past it; nil if it runs past `end` or
  /// beyond 10 bytes (the longest a 64-bit value takes).
  @usableFromInline
  static func varint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, end: Int) -> UInt64? {
    var value: UInt64 = 0
    for shift in stride(from: 0, to: 70, by: 7) {
      guard position < end else { return nil }
      let byte = bytes[position]
      position += 1
      value |= UInt64(byte & 0x7f) << UInt64(shift)
      if byte & 0x80 == 0 { return value }
    }
    return nil
  }
}
