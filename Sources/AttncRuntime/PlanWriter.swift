import AttncTensor

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

extension PlanFile {
  /// Serializes `plan` to the bytes of a plan file (layout: see `PlanFile`).
  ///
  /// Deterministic: the same plan always gives the same bytes (weights in slot order,
  /// parameters sorted by name). Whatever `encode` accepts, `decode` reads back equal.
  /// - Throws: `AttncError` (`.invalidModel`) "invalid plan: …" when the plan cannot be stored
  ///   or read back: a slot index out of range, a weight whose dtype or size disagrees with its
  ///   slot or shape, text holding a NUL character, a source digest that is not 32 bytes;
  ///   `.io` "zstd compression failed: …" on resource exhaustion.
  /// - Complexity: O(total weight bytes); chunks are compressed and hashed on every core, with
  ///   one extra 4 MiB buffer per core besides the result.
  public static func encode(_ plan: Plan) throws -> [UInt8] {
    let parts = try encodedParts(plan)
    var file: [UInt8] = []
    file.reserveCapacity(parts.reduce(0) { $0 + $1.count })
    for part in parts { file += part }
    return file
  }

  /// Writes `plan` to `path` atomically.
  ///
  /// The bytes go to `temporaryPath(for: path)` in the same folder, which is synced to disk and
  /// renamed over `path`. `path` is never left partly written, and the temporary file is
  /// removed on any error.
  ///
  /// - Throws: as `encode`, and `AttncError` (`.io`) naming the file and the system's reason
  ///   when it cannot be created, written, synced or renamed.
  public static func write(_ plan: Plan, to path: String) throws {
    try writeAtomically(encodedParts(plan), to: path)
  }

  // MARK: - Encoding

  /// The file as consecutive parts: prefix, header and checksum, then one part per chunk.
  static func encodedParts(_ plan: Plan) throws -> [[UInt8]] {
    let layout = try invalidPlan { try layOut(plan) }
    let compressed = try compressChunks(layout)
    var skeleton = plan
    skeleton.constants = [:]
    var offset = 0
    var chunks: [Chunk] = []
    for (index, chunk) in compressed.enumerated() {
      let rawLength = min(chunkSize, layout.streamLength - index * chunkSize)
      chunks.append(
        Chunk(
          offset: offset, compressedLength: chunk.bytes.count, rawLength: rawLength,
          sha256: chunk.sha256))
      offset += chunk.bytes.count
    }
    let header = Header(
      formatVersion: Plan.formatVersion, plan: skeleton, constants: layout.constants,
      chunks: chunks)
    let headerBytes = try invalidPlan { try PlanCodec.pack(header) }
    guard let headerLength = UInt32(exactly: headerBytes.count) else {
      throw AttncError.invalid("invalid plan: its header needs \(headerBytes.count) bytes")
    }
    var head = magic
    head.reserveCapacity(prefixLength + headerBytes.count + 32)
    withUnsafeBytes(of: Plan.formatVersion.littleEndian) { head += $0 }
    withUnsafeBytes(of: headerLength.littleEndian) { head += $0 }
    head += headerBytes
    head += SHA256.digest(headerBytes)
    return [head] + compressed.map(\.bytes)
  }

  /// Where each weight goes in the weight stream, and the tensors holding them.
  struct Layout {
    var constants: [ConstantRef]
    /// The tensor of each entry of `constants`.
    var tensors: [HostTensor]
    var streamLength: Int
  }

  /// Checks `plan` and places its weights in slot order, each 64-byte aligned (strings and
  /// empty tensors at offset 0 with length 0).
  static func layOut(_ plan: Plan) throws -> Layout {
    let slots = plan.constants.keys.sorted()
    let tensors = slots.compactMap { plan.constants[$0] }
    try checkIndices(plan, weights: zip(slots, tensors).map { ($0, $1.dtype) })
    var layout = Layout(constants: [], tensors: tensors, streamLength: 0)
    for (slot, tensor) in zip(slots, tensors) {
      let isString = tensor.dtype == .string
      let length = isString ? 0 : tensor.storage.count
      try withContext("the weight of slot \(slot) ('\(plan.slots[slot].name)')") {
        try checkWeightSize(
          dtype: tensor.dtype, shape: tensor.shape, length: length,
          stringCount: isString ? tensor.strings.count : 0)
      }
      // Strings and empty tensors have no bytes in the stream.
      let offset = length == 0 ? 0 : aligned(layout.streamLength)
      layout.constants.append(
        ConstantRef(
          slot: slot, dtype: tensor.dtype, shape: tensor.shape, offset: offset, length: length,
          strings: isString ? tensor.strings : []))
      if length > 0 { layout.streamLength = offset + length }
    }
    return layout
  }

  /// Cuts the weight stream into chunks; compresses and hashes each.
  static func compressChunks(_ layout: Layout) throws -> [(bytes: [UInt8], sha256: [UInt8])] {
    let count = (layout.streamLength + chunkSize - 1) / chunkSize
    let results = parallelMap(count) { index in
      Result { () throws -> (bytes: [UInt8], sha256: [UInt8]) in
        let raw = chunkBytes(index, of: layout)
        return try raw.withUnsafeBytes { raw in
          (try Zstd.compress(raw, level: compressionLevel), SHA256.digest(raw))
        }
      }
    }
    return try results.map { try $0.get() }
  }

  /// Bytes `index * chunkSize ..< (index + 1) * chunkSize` of the weight stream (fewer for the
  /// last chunk): the weights that overlap them, zeros between.
  static func chunkBytes(_ index: Int, of layout: Layout) -> [UInt8] {
    let start = index * chunkSize
    let end = min(start + chunkSize, layout.streamLength)
    var raw = [UInt8](repeating: 0, count: end - start)
    raw.withUnsafeMutableBytes { raw in
      for (constant, tensor) in zip(layout.constants, layout.tensors)
      where constant.length > 0 && constant.offset < end
        && constant.offset + constant.length > start
      {
        let from = max(constant.offset, start)
        let to = min(constant.offset + constant.length, end)
        let source = UnsafeRawBufferPointer(
          rebasing: tensor.storage.bytes[(from - constant.offset)..<(to - constant.offset)])
        UnsafeMutableRawBufferPointer(rebasing: raw[(from - start)..<(to - start)])
          .copyMemory(from: source)
      }
    }
    return raw
  }

  /// Runs `body`, prefixing "invalid plan: " to the description of any `AttncError`.
  private static func invalidPlan<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as AttncError {
      throw AttncError(error.code, "invalid plan: \(error.description)")
    }
  }

  // MARK: - Atomic write

  /// Writes `parts` one after another to a temporary file beside `path`, syncs it, renames it
  /// over `path`, then syncs the folder (best effort) so the rename is durable too.
  static func writeAtomically(_ parts: [[UInt8]], to path: String) throws {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    guard !name.isEmpty, name != ".", name != ".." else {
      throw AttncError(.io, "cannot write '\(path)': it names a folder, not a file")
    }
    let temporary = temporaryPath(for: path)
    // O_EXCL: never write through a file or link that is already there.
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw systemError("cannot create '\(temporary)'") }
    var renamed = false
    defer { if !renamed { unlink(temporary) } }
    do {
      for part in parts {
        try writeAll(part, to: descriptor, path: temporary)
      }
      guard fsync(descriptor) == 0 else { throw systemError("cannot sync '\(temporary)'") }
    } catch {
      close(descriptor)
      throw error
    }
    guard close(descriptor) == 0 else { throw systemError("cannot close '\(temporary)'") }
    guard rename(temporary, path) == 0 else {
      throw systemError("cannot rename '\(temporary)' to '\(path)'")
    }
    renamed = true
    let folderDescriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if folderDescriptor >= 0 {
      _ = fsync(folderDescriptor)
      close(folderDescriptor)
    }
  }

  /// The temporary file `write` fills before renaming it to `path`: `.<name>.tmp-<pid>` in the
  /// same folder. It never ends in `.attnc`, so a crash cannot leave a file that looks like a
  /// plan.
  public static func temporaryPath(for path: String, processID: Int32 = getpid()) -> String {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    return "\(folder).\(name).tmp-\(processID)"
  }

  /// Whether `fileName` (a name, not a path) is a temporary file `write` made for a plan named
  /// `planName` in the same folder, by any process.
  public static func isTemporary(_ fileName: String, for planName: String) -> Bool {
    let prefix = ".\(planName).tmp-"
    guard fileName.hasPrefix(prefix) else { return false }
    let digits = fileName.dropFirst(prefix.count)
    return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
  }

  /// Writes all of `bytes`, retrying short writes and interruptions.
  private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
    try bytes.withUnsafeBytes { buffer in
      var done = 0
      while done < buffer.count {
        guard let base = buffer.baseAddress else { return }
        let written = systemWrite(descriptor, base + done, buffer.count - done)
        if written < 0 {
          if errno == EINTR { continue }
          throw systemError("cannot write '\(path)'")
        }
        done += written
      }
    }
  }

  /// An `.io` error: `what`, then the text of the current `errno`.
  private static func systemError(_ what: String) -> AttncError {
    AttncError(.io, "\(what): \(String(cString: strerror(errno)))")
  }
}

/// POSIX `write(2)` (inside `PlanFile`, `write` names the plan writer).
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, bytes, count)
}
