import AttncTensor

extension PlanFile {
  /// Reads the plan file at `path` without its weights: every field of the plan except
  /// `constants`, which is empty.
  ///
  /// Verifies everything that can be verified without decompressing: magic, version, the
  /// header's checksum and structure, every slot index and weight range, and that the weight
  /// chunks lie back to back up to the end of the file (so a truncated or extended file is
  /// refused). The weight bytes themselves are neither decompressed nor checksummed; `read`
  /// does that.
  ///
  /// Errors other than the file system's do not name `path`; callers add it as context.
  /// - Throws: `AttncError` (`.io`) when the file cannot be opened or mapped, else
  ///   (`.invalidModel`) as `decode` for the parts it checks.
  /// - Complexity: O(header size); only the header's pages of the mapped file are read.
  public static func readHeader(_ path: String) throws -> Plan {
    let file = try MappedFile(path: path)
    return try checkedHeader(file.bytes).header.plan
  }

  /// Verifies the prefix, header, chunk placement and weight ranges of a plan file's bytes;
  /// returns the header, the weight section and the length of the weight stream it expands to.
  /// - Throws: as `decode`, for the parts it checks.
  static func checkedHeader(_ bytes: UnsafeRawBufferPointer) throws
    -> (header: Header, section: UnsafeRawBufferPointer, streamLength: Int)
  {
    let headerRange = try checkPrefix(bytes)
    let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[headerRange])
    let checksumEnd = headerRange.upperBound + 32
    guard SHA256.digest(headerBytes).elementsEqual(bytes[headerRange.upperBound..<checksumEnd])
    else { throw AttncError.invalid("plan header checksum mismatch (file corrupted)") }

    let header = try PlanCodec.unpack(headerBytes)
    try headerCorrupted {
      guard header.formatVersion == Plan.formatVersion else {
        throw AttncError.invalid(
          "it says format version \(header.formatVersion), the file says \(Plan.formatVersion)")
      }
      try checkIndices(header.plan, weights: header.constants.map { ($0.slot, $0.dtype) })
    }
    let section = UnsafeRawBufferPointer(rebasing: bytes[checksumEnd...])
    let streamLength = try checkChunks(header.chunks, section: section, sectionStart: checksumEnd)
    try headerCorrupted { try checkConstants(header.constants, of: header.plan, streamLength) }
    return (header, section, streamLength)
  }
}
