import AttncTensor

extension PlanFile {
  /// Reads and verifies the plan file at `path` (memory-mapped; see `decode`).
  ///
  /// Errors other than the file system's do not name `path`; callers add it as context.
  /// - Throws: `AttncError` (`.io`) when the file cannot be opened or mapped, else as `decode`.
  public static func read(_ path: String) throws -> Plan {
    let file = try MappedFile(path: path)
    return try decode(file.bytes)
  }

  /// Decodes the bytes of a plan file, verifying everything before trusting it: magic, version,
  /// lengths, the header's checksum and structure, every slot index, every weight's range and
  /// size, every chunk's placement, decompressed size and checksum.
  ///
  /// Never traps on any byte sequence, and allocates at most what the file justifies: the
  /// header as protobuf-c decodes it, and the weight stream, at most 4 MiB per chunk.
  /// Weights are decompressed into one 64-byte aligned heap buffer that the returned constants
  /// share; nothing refers to `bytes` afterwards.
  /// - Throws: `AttncError` (`.invalidModel`), among others:
  ///   - "not an attnc plan (bad magic)"
  ///   - "plan format version 7 is not supported (this attnc reads version 1)"
  ///   - "plan file is truncated: …" (the file ends before its header or a chunk does)
  ///   - "plan header checksum mismatch (file corrupted)"
  ///   - "plan header is corrupted: …" (protobuf, structure, indices, ranges)
  ///   - "weight chunk 3 is corrupted (zstd decompression failed: …)"
  ///   - "weight chunk 3 checksum mismatch (file corrupted)"
  ///   - "plan file has 12 unexpected bytes after its last weight chunk (file corrupted)"
  /// - Complexity: O(file size + weight stream size); chunks are decompressed and hashed on
  ///   every core.
  public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> Plan {
    let (header, section, streamLength) = try checkedHeader(bytes)
    var plan = header.plan
    let stream = try decompress(header.chunks, section: section, streamLength: streamLength)
    for constant in header.constants {
      let storage = ByteStorage(
        borrowing: stream.base + constant.offset, count: constant.length, owner: stream)
      // Cannot fail: `checkConstants` checked the sizes.
      plan.constants[constant.slot] = try HostTensor(
        dtype: constant.dtype, shape: constant.shape, storage: storage,
        strings: constant.strings)
    }
    return plan
  }

  // MARK: - Verification

  /// Checks magic, version and header length; returns the header's byte range.
  static func checkPrefix(_ bytes: UnsafeRawBufferPointer) throws -> Range<Int> {
    let count = bytes.count
    guard count > 0 else { throw AttncError.invalid("plan file is truncated: the file is empty") }
    let magicLength = min(count, magic.count)
    guard bytes.prefix(magicLength).elementsEqual(magic.prefix(magicLength)) else {
      throw AttncError.invalid("not an attnc plan (bad magic)")
    }
    func truncated() -> AttncError {
      AttncError.invalid(
        "plan file is truncated: \(count) bytes, the file header alone needs \(prefixLength)")
    }
    guard count >= 12 else { throw truncated() }
    let version = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    guard version == Plan.formatVersion else {
      let advice = version < Plan.formatVersion
        ? "; it was written by an older attnc: convert the model again" : "; it was written by a newer attnc"
      throw AttncError.invalid(
        "plan format version \(version) is not supported (this attnc reads version "
          + "\(Plan.formatVersion))" + advice)
    }
    guard count >= prefixLength else { throw truncated() }
    let headerLength = Int(
      UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
    let headerEnd = prefixLength + headerLength
    guard headerEnd + 32 <= count else {
      throw AttncError.invalid(
        "plan file is truncated: its header and checksum end at byte \(headerEnd + 32), the "
          + "file has \(count) bytes")
    }
    return prefixLength..<headerEnd
  }

  /// Checks that the chunks lie back to back from the start of the weight section to its end
  /// and that every chunk but the last holds `chunkSize` raw bytes; returns the stream length.
  static func checkChunks(
    _ chunks: [Chunk], section: UnsafeRawBufferPointer, sectionStart: Int
  ) throws -> Int {
    var offset = 0
    for (index, chunk) in chunks.enumerated() {
      let isLast = index == chunks.count - 1
      try headerCorrupted {
        guard chunk.offset == offset else {
          throw AttncError.invalid(
            "weight chunk \(index) starts at byte \(chunk.offset) of the weight section, "
              + "expected \(offset)")
        }
        guard chunk.compressedLength > 0 else {
          throw AttncError.invalid(
            "weight chunk \(index) has \(chunk.compressedLength) compressed bytes")
        }
        guard isLast ? (1...chunkSize).contains(chunk.rawLength) : chunk.rawLength == chunkSize
        else {
          throw AttncError.invalid(
            "weight chunk \(index) of \(chunks.count) holds \(chunk.rawLength) bytes (every "
              + "chunk holds \(chunkSize), the last one 1 to \(chunkSize))")
        }
        guard chunk.sha256.count == 32 else {
          throw AttncError.invalid(
            "weight chunk \(index) has a \(chunk.sha256.count)-byte checksum, expected 32")
        }
      }
      guard chunk.compressedLength <= section.count - offset else {
        throw AttncError.invalid(
          "plan file is truncated: weight chunk \(index) needs \(chunk.compressedLength) bytes "
            + "from byte \(sectionStart + offset), the file has \(sectionStart + section.count)")
      }
      offset += chunk.compressedLength
    }
    guard offset == section.count else {
      let extra = section.count - offset
      throw AttncError.invalid(
        "plan file has \(extra) unexpected \(extra == 1 ? "byte" : "bytes") after its last "
          + "weight chunk (file corrupted)")
    }
    // Every chunk but the last is full, so this cannot overflow: the header holds the chunks.
    return chunks.isEmpty ? 0 : (chunks.count - 1) * chunkSize + chunks[chunks.count - 1].rawLength
  }

  /// Checks that each weight lies inside the stream, aligned, with the size its shape needs.
  static func checkConstants(_ constants: [ConstantRef], of plan: Plan, _ streamLength: Int)
    throws
  {
    for constant in constants {
      try withContext("the weight of slot \(constant.slot) ('\(plan.slots[constant.slot].name)')") {
        guard constant.offset >= 0, constant.length >= 0, constant.offset <= streamLength,
          constant.length <= streamLength - constant.offset
        else {
          throw AttncError.invalid(
            "bytes \(constant.offset) (+\(constant.length)) lie outside the \(streamLength)-byte "
              + "weight stream")
        }
        guard constant.offset % alignment == 0 else {
          throw AttncError.invalid(
            "it starts at byte \(constant.offset) of the weight stream, which is not "
              + "\(alignment)-byte aligned")
        }
        try checkWeightSize(
          dtype: constant.dtype, shape: constant.shape, length: constant.length,
          stringCount: constant.strings.count)
      }
    }
  }

  /// Decompresses every chunk into one buffer, checking each chunk's size and checksum.
  ///
  /// On failure, throws the error of the first failing chunk.
  static func decompress(
    _ chunks: [Chunk], section: UnsafeRawBufferPointer, streamLength: Int
  ) throws -> ByteStorage {
    var failures: [AttncError?] = []
    let stream = ByteStorage.build(count: streamLength) { stream in
      failures = parallelMap(chunks.count) { index -> AttncError? in
        let chunk = chunks[index]
        let start = index * chunkSize
        let raw = UnsafeMutableRawBufferPointer(
          rebasing: stream[start..<(start + chunk.rawLength)])
        let compressed = UnsafeRawBufferPointer(
          rebasing: section[chunk.offset..<(chunk.offset + chunk.compressedLength)])
        do {
          try Zstd.decompress(compressed, into: raw)
        } catch let error as AttncError {
          return AttncError.invalid("weight chunk \(index) is corrupted (\(error.message))")
        } catch {
          return AttncError.invalid("weight chunk \(index) is corrupted (\(error))")
        }
        guard SHA256.digest(UnsafeRawBufferPointer(raw)).elementsEqual(chunk.sha256) else {
          return AttncError.invalid("weight chunk \(index) checksum mismatch (file corrupted)")
        }
        return nil
      }
    }
    if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    return stream
  }

  /// Runs `body`, turning an `AttncError` into "plan header is corrupted: <description>".
  static func headerCorrupted(_ body: () throws -> Void) throws {
    do {
      try body()
    } catch let error as AttncError {
      throw AttncError(error.code, "plan header is corrupted: \(error.description)")
    }
  }
}
