import AttncTensor
import CZstd

/// zstd compression of the plan's weight chunks: the only Swift code that calls libzstd.
///
/// Every zstd failure becomes an `AttncError` carrying `ZSTD_getErrorName`'s text.
enum Zstd {
  /// Compresses `bytes` into one zstd frame (which records its content size) at `level`.
  ///
  /// - Throws: `AttncError` (`.io`): "zstd compression failed: <zstd error name>" (only on
  ///   resource exhaustion or an out-of-range level in practice).
  /// - Complexity: O(n); allocates `ZSTD_compressBound(n)` bytes, then trims.
  static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 3) throws -> [UInt8] {
    let bound = ZSTD_compressBound(bytes.count)
    if ZSTD_isError(bound) != 0 { throw failure("compression", code: bound, as: .io) }
    var written = 0
    let output = try [UInt8](unsafeUninitializedCapacity: max(bound, 1)) { buffer, count in
      written = ZSTD_compress(buffer.baseAddress, bound, bytes.baseAddress, bytes.count, level)
      if ZSTD_isError(written) != 0 {
        count = 0
        throw failure("compression", code: written, as: .io)
      }
      // zstd initialized exactly the first `written` bytes.
      count = written
    }
    return output
  }

  /// Decompresses zstd data that must expand to exactly `rawLength` bytes.
  ///
  /// Allocates `rawLength` bytes and no more: zstd decodes straight into that buffer and fails
  /// rather than writing past it.
  /// - Throws: `AttncError` (`.invalidModel`): "zstd decompression failed: <zstd error name>";
  ///   "zstd data declares N bytes, expected M"; "zstd data expands to N bytes, expected M".
  static func decompress(_ bytes: UnsafeRawBufferPointer, rawLength: Int) throws -> [UInt8] {
    guard rawLength >= 0 else {
      throw AttncError.invalid("zstd data cannot expand to \(rawLength) bytes")
    }
    return try [UInt8](unsafeUninitializedCapacity: max(rawLength, 1)) { buffer, count in
      count = 0
      let destination = UnsafeMutableRawBufferPointer(
        start: buffer.baseAddress, count: rawLength)
      try decompress(bytes, into: destination)
      count = rawLength
    }
  }

  /// Decompresses zstd data into `destination`, which it must fill exactly.
  ///
  /// - Throws: as `decompress(_:rawLength:)`; `destination`'s contents are unspecified then.
  static func decompress(
    _ bytes: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer
  ) throws {
    let expected = destination.count
    // A frame that records its size can be refused before any work.
    let declared = ZSTD_getFrameContentSize(bytes.baseAddress, bytes.count)
    if declared != ZSTD_CONTENTSIZE_UNKNOWN, declared != ZSTD_CONTENTSIZE_ERROR,
      declared > UInt64(expected)
    {
      throw AttncError.invalid("zstd data declares \(declared) bytes, expected \(expected)")
    }
    let written = ZSTD_decompress(
      destination.baseAddress, expected, bytes.baseAddress, bytes.count)
    if ZSTD_isError(written) != 0 {
      throw failure("decompression", code: written, as: .invalidModel)
    }
    guard written == expected else {
      throw AttncError.invalid("zstd data expands to \(written) bytes, expected \(expected)")
    }
  }

  private static func failure(_ what: String, code: Int, as kind: AttncError.Code) -> AttncError {
    let name = ZSTD_getErrorName(code).map { String(cString: $0) } ?? "unknown error"
    return AttncError(kind, "zstd \(what) failed: \(name)")
  }
}
