import AttncKernels
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

@testable import AttncRuntime

@Suite struct PlanFileTests {
  static let seq = Dim.symbol("seq")
  static let batch = Dim.symbol("batch")

  /// A plan using every feature of the format: symbolic dims (nested floor divisions too),
  /// every parameter kind, omitted inputs, decisions with and without an error estimate, and
  /// weights of every storage kind (float32, int64, bool, float16, string, int4, bytes that do
  /// not compress, an empty tensor).
  ///
  /// - Parameters:
  ///   - big: makes the float32 weight 4.4 MB, so the weight stream spans two 4 MiB chunks
  ///     and that weight straddles the boundary.
  ///   - reversed: builds every dictionary in the opposite insertion order (same plan).
  /// - Returns: the plan; equal for both values of `reversed`.
  static func samplePlan(big: Bool, reversed: Bool = false) -> Plan {
    let weightCount = big ? 1_100_000 : 300
    let weight = HostTensor(
      floats: (0..<weightCount).map { Float($0 % 251) * 0.5 }, shape: [weightCount])
    let noiseCount = big ? 100_000 : 2_000
    let noise = HostTensor.of(.uint8, pseudoRandomBytes(noiseCount), shape: [noiseCount])
    var parameters: [(String, KernelParameter)] = [
      ("int", .int(-3)), ("float", .float(0.25)), ("string", .string("tanh")),
      ("ints", .ints([1, -1, Int64.max, Int64.min])), ("floats", .floats([1.5, -2, .infinity])),
      ("noInts", .ints([])), ("noDims", .dims([])),
      (
        "dims",
        .dims([
          seq, seq.floorDivided(by: 4) + 1, (seq.floorDivided(by: 2) + batch).floorDivided(by: 3),
          0,
        ])
      ),
    ]
    var constants: [(Int, HostTensor)] = [
      (1, weight), (3, HostTensor(int64s: [1, -2, Int64.max], shape: [3])),
      (4, HostTensor(bools: [true, false], shape: [2])),
      (5, HostTensor(dtype: .float16, shape: [2], converting: [0.5, -2])),
      (6, HostTensor(strings: ["", "héllo", "a\u{0}b"], shape: [3])),
      (7, HostTensor(dtype: .int4, shape: [3], integers: [-8, 7, 1])), (8, noise),
      (9, HostTensor(floats: [], shape: [0, 4])),
    ]
    if reversed {
      parameters.reverse()
      constants.reverse()
    }
    var plan = Plan(
      sourceSHA256: SHA256.digest(Array("model".utf8)), producer: "attnc test", policy: "exact",
      decisions: [
        Plan.Decision(
          layer: 0, node: "attn", variant: "softmax", predictedMilliseconds: 1.5, error: nil,
          errorSource: "unmeasured"),
        Plan.Decision(
          layer: 3, node: "layer.3/attn", variant: "performer",
          parameters: Dictionary(uniqueKeysWithValues: parameters),
          predictedMilliseconds: 0.75, error: 0.01, errorSource: "calibration"),
      ],
      slots: [
        Plan.Slot(name: "x", dtype: .float, dims: [batch, seq * 2 + 1]),
        Plan.Slot(name: "w", dtype: .float, dims: [Dim(weightCount)]),
        Plan.Slot(
          name: "y", dtype: .float, dims: [seq.floorDivided(by: 2), (seq + 1).floorDivided(by: 3)]),
        Plan.Slot(name: "ids", dtype: .int64, dims: [3]),
        Plan.Slot(name: "flags", dtype: .bool, dims: [2]),
        Plan.Slot(name: "half", dtype: .float16, dims: [2]),
        Plan.Slot(name: "names", dtype: .string, dims: [3]),
        Plan.Slot(name: "nibbles", dtype: .int4, dims: [3]),
        Plan.Slot(name: "noise", dtype: .uint8, dims: [Dim(noiseCount)]),
        Plan.Slot(name: "empty", dtype: .float, dims: [0, 4]),
        Plan.Slot(name: "z", dtype: .float, dims: [batch * seq - 1, -seq + 7]),
      ],
      inputs: [0], outputs: [2, 10],
      instructions: [
        Plan.Instruction(
          call: FusedAttentionCall(
            scale: 0.125, causal: true, softcap: 30, mask: .keyPadding, maskFill: -.infinity, variant: "performer",
            variantValues: ["m": 256, "seed": 7], dispatch: "1-2047:softmax 2048-:performer:m=256,seed=7"),
          inputs: [0, nil, 1], outputs: [2], label: "node/one"),
        Plan.Instruction(call: SliceCall(starts: [1, -1, .max, .min], ends: [], axes: nil), inputs: [nil, nil], outputs: [10], label: ""),
        Plan.Instruction(
          call: ReshapeCall(dims: [seq, seq.floorDivided(by: 4) + 1, (seq.floorDivided(by: 2) + batch).floorDivided(by: 3), 0]),
          inputs: [0], outputs: [2], label: "view"),
      ],
      constants: Dictionary(uniqueKeysWithValues: constants))
    plan.options = "policy=balanced seq-len=auto"
    plan.decisions[1].dispatch = "1-2047:softmax 2048-:performer:m=256,seed=7"
    plan.decisions[1].candidates = [
      Plan.Candidate(variant: "softmax", predictedMilliseconds: 2.5, error: 0, errorSource: "exact", allowed: true),
      Plan.Candidate(
        variant: "performer", parameters: ["m": .float(256), "seed": .float(7)], predictedMilliseconds: 0.75, error: 0.01,
        errorSource: "measured", allowed: true),
      Plan.Candidate(
        variant: "nystrom", predictedMilliseconds: 0.5, error: nil, errorSource: "unmeasured", allowed: false,
        reason: "nystrom has no causal form"),
    ]
    return plan
  }

  /// Bytes from a fixed linear congruential generator: they do not compress.
  static func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x5eed) -> [UInt8] {
    var generator = LinearCongruentialGenerator(state: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 33) }
  }

  static let small = samplePlan(big: false)
  static let big = samplePlan(big: true)
  /// The big plan's bytes, encoded once for the suite (hashing 4 MiB is slow in debug builds).
  static let bigBytes = Result { try PlanFile.encode(big) }

  /// Expects `decoded` to equal `original` field by field, weights byte for byte.
  static func expectSame(_ decoded: Plan, _ original: Plan) {
    #expect(decoded.sourceSHA256 == original.sourceSHA256)
    #expect(decoded.producer == original.producer)
    #expect(decoded.policy == original.policy)
    #expect(decoded.options == original.options)
    #expect(decoded.decisions == original.decisions)
    #expect(decoded.slots == original.slots)
    #expect(decoded.inputs == original.inputs)
    #expect(decoded.outputs == original.outputs)
    #expect(decoded.instructions == original.instructions)
    #expect(decoded.constants.keys.sorted() == original.constants.keys.sorted())
    for (slot, expected) in original.constants {
      guard let tensor = decoded.constants[slot] else { continue }
      #expect(tensor.dtype == expected.dtype, "slot \(slot)")
      #expect(tensor.shape == expected.shape, "slot \(slot)")
      #expect(tensor.strings == expected.strings, "slot \(slot)")
      #expect(tensor.storage.bytes.elementsEqual(expected.storage.bytes), "slot \(slot)")
    }
  }

  static func decode(_ bytes: [UInt8]) throws -> Plan {
    try bytes.withUnsafeBytes { try PlanFile.decode($0) }
  }

  /// The message `decode` refuses `bytes` with (nil if it accepts them).
  static func refusal(_ bytes: [UInt8]) -> String? {
    do {
      _ = try decode(bytes)
      return nil
    } catch let error as AttncError {
      return error.description
    } catch {
      return "not an AttncError: \(error)"
    }
  }

  /// A file's header (decoded) and weight section.
  static func parts(_ bytes: [UInt8]) throws -> (header: PlanFile.Header, weights: [UInt8]) {
    try bytes.withUnsafeBytes { file in
      let range = try PlanFile.checkPrefix(file)
      let header = try PlanCodec.unpack(UnsafeRawBufferPointer(rebasing: file[range]))
      return (header, Array(file[(range.upperBound + 32)...]))
    }
  }

  /// A file made of `header` (packed), its correct checksum and `weights`.
  static func file(_ header: PlanFile.Header, weights: [UInt8]) throws -> [UInt8] {
    file(headerBytes: try PlanCodec.pack(header), weights: weights)
  }

  static func file(headerBytes: [UInt8], weights: [UInt8], version: UInt32 = Plan.formatVersion) -> [UInt8] {
    var bytes = Array("ATTNCPLN".utf8)
    withUnsafeBytes(of: version.littleEndian) { bytes += $0 }
    withUnsafeBytes(of: UInt32(headerBytes.count).littleEndian) { bytes += $0 }
    return bytes + headerBytes + SHA256.digest(headerBytes) + weights
  }

  /// A file whose header is the small plan's after `change`.
  static func smallFile(changing change: (inout PlanFile.Header) -> Void) throws -> [UInt8] {
    var (header, weights) = try parts(PlanFile.encode(small))
    change(&header)
    return try file(header, weights: weights)
  }

  static func temporaryFolder() throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("attnc-plan-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}

// MARK: - Round trip

extension PlanFileTests {
  @Test func roundTripKeepsEveryField() throws {
    let bytes = try PlanFile.encode(Self.small)
    Self.expectSame(try Self.decode(bytes), Self.small)
  }

  @Test func roundTripOfAWeightStreamSpanningChunks() throws {
    let bytes = try Self.bigBytes.get()
    let (header, _) = try Self.parts(bytes)
    #expect(header.chunks.count == 2)
    #expect(header.chunks.first?.rawLength == PlanFile.chunkSize)
    let decoded = try Self.decode(bytes)
    Self.expectSame(decoded, Self.big)
    for tensor in decoded.constants.values where tensor.storage.count > 0 {
      #expect(Int(bitPattern: tensor.storage.base) % PlanFile.alignment == 0)
    }
  }

  @Test func weightsStartAlignedInSlotOrder() throws {
    let (header, _) = try Self.parts(PlanFile.encode(Self.small))
    #expect(header.constants.map(\.slot) == [1, 3, 4, 5, 6, 7, 8, 9])
    for constant in header.constants {
      #expect(constant.offset % PlanFile.alignment == 0)
    }
    #expect(header.plan.constants.isEmpty)
  }

  @Test func encodingIsDeterministic() throws {
    let bytes = try PlanFile.encode(Self.small)
    #expect(try PlanFile.encode(Self.small) == bytes)
    // Same plan, dictionaries filled in the opposite order.
    #expect(try PlanFile.encode(Self.samplePlan(big: false, reversed: true)) == bytes)
    // Decoding and encoding again changes nothing.
    #expect(try PlanFile.encode(Self.decode(bytes)) == bytes)
  }

  @Test func emptyPlanRoundTrips() throws {
    let plan = Plan(
      sourceSHA256: [], producer: "", policy: "", slots: [], inputs: [], outputs: [],
      instructions: [], constants: [:])
    let bytes = try PlanFile.encode(plan)
    #expect(try Self.parts(bytes).header.chunks.isEmpty)
    Self.expectSame(try Self.decode(bytes), plan)
  }
}

// MARK: - Refusing damaged files

extension PlanFileTests {
  @Test func everyTruncationIsRefused() throws {
    let bytes = try PlanFile.encode(Self.small)
    for length in 0..<bytes.count {
      let message = Self.refusal(Array(bytes.prefix(length)))
      #expect(message?.hasPrefix("plan file is truncated: ") == true, "\(length): \(message ?? "")")
    }
    #expect(Self.refusal([]) == "plan file is truncated: the file is empty")
    #expect(
      Self.refusal(Array(bytes.prefix(10)))
        == "plan file is truncated: 10 bytes, the file header alone needs 16")
  }

  @Test func truncationsOfAMultiChunkFileAreRefused() throws {
    let bytes = try Self.bigBytes.get()
    let cuts = Array(stride(from: 0, to: bytes.count, by: 65_521)) + [bytes.count - 1]
    for length in cuts {
      let message = Self.refusal(Array(bytes.prefix(length)))
      #expect(message?.hasPrefix("plan file is truncated: ") == true, "\(length): \(message ?? "")")
    }
  }

  @Test func flippedBytesInPrefixHeaderAndChecksumAreRefused() throws {
    let bytes = try PlanFile.encode(Self.small)
    let (_, weights) = try Self.parts(bytes)
    let sectionStart = bytes.count - weights.count
    // Every byte of the prefix and the checksum, and a stride through the header.
    let positions =
      Array(0..<16) + Array((sectionStart - 32)..<sectionStart)
      + Array(stride(from: 16, to: sectionStart - 32, by: 5))
    #expect(positions.count > 200)
    for position in positions {
      for mask: UInt8 in [0xff, 1 << UInt8(position % 8)] {
        var copy = bytes
        copy[position] ^= mask
        #expect(Self.refusal(copy) != nil, "flip \(mask) at \(position) was accepted")
      }
    }
  }

  /// Any flip in a chunk that changes a weight is refused.
  ///
  /// zstd ignores a few bits of a frame (its header's "unused" bit, some equivalent entropy
  /// table spellings): flipping one leaves every decoded byte as it was, which the raw-byte
  /// checksum then confirms.
  @Test func flippedBytesInAChunkAreRefusedUnlessHarmless() throws {
    let bytes = try PlanFile.encode(Self.small)
    let (_, weights) = try Self.parts(bytes)
    let sectionStart = bytes.count - weights.count
    let positions = Array(stride(from: sectionStart, to: bytes.count, by: 9)) + [bytes.count - 1]
    #expect(positions.count > 200)
    var harmless = 0
    for position in positions {
      for mask: UInt8 in [0xff, 1 << UInt8(position % 8)] {
        var copy = bytes
        copy[position] ^= mask
        guard let plan = try? Self.decode(copy) else { continue }
        harmless += 1
        Self.expectSame(plan, Self.small)
      }
    }
    #expect(harmless <= positions.count / 50, "\(harmless) flips were accepted")
  }

  @Test func aFlipInTheSecondChunkIsRefused() throws {
    let bytes = try Self.bigBytes.get()
    let (header, weights) = try Self.parts(bytes)
    let chunk = try #require(header.chunks.last)
    var copy = bytes
    copy[bytes.count - weights.count + chunk.offset + chunk.compressedLength / 2] ^= 0x10
    let message = try #require(Self.refusal(copy))
    #expect(message.hasPrefix("weight chunk 1 "), "\(message)")
  }

  @Test func messagesForForeignAndNewerFiles() throws {
    var bytes = try PlanFile.encode(Self.small)
    #expect(
      Self.refusal(Array("PK\u{3}\u{4} not a plan at all".utf8)) == "not an attnc plan (bad magic)")
    #expect(Self.refusal(Array("ATTNX".utf8)) == "not an attnc plan (bad magic)")
    bytes[8] = 7
    #expect(
      Self.refusal(bytes)
        == "plan format version 7 is not supported (this attnc reads version 2); it was written by a newer attnc")
    // A plan of the format before typed kernel calls: convert again.
    bytes[8] = 1
    #expect(
      Self.refusal(bytes)
        == "plan format version 1 is not supported (this attnc reads version 2); it was written by an older attnc: convert the model again")
  }

  @Test func headerChecksumMismatch() throws {
    var bytes = try PlanFile.encode(Self.small)
    bytes[20] ^= 0x01
    #expect(Self.refusal(bytes) == "plan header checksum mismatch (file corrupted)")
  }

  @Test func chunkChecksumMismatch() throws {
    let bytes = try PlanFile.encode(Self.small)
    let (header, weights) = try Self.parts(bytes)
    var tampered = header
    tampered.chunks[0].sha256[5] ^= 0x01
    #expect(
      Self.refusal(try Self.file(tampered, weights: weights))
        == "weight chunk 0 checksum mismatch (file corrupted)")
  }

  @Test func secondChunkChecksumMismatch() throws {
    let (header, weights) = try Self.parts(Self.bigBytes.get())
    var tampered = header
    tampered.chunks[1].sha256[0] ^= 0x80
    #expect(
      Self.refusal(try Self.file(tampered, weights: weights))
        == "weight chunk 1 checksum mismatch (file corrupted)")
  }

  @Test func bytesAfterTheLastChunkAreRefused() throws {
    let bytes = try PlanFile.encode(Self.small)
    #expect(
      Self.refusal(bytes + [0])
        == "plan file has 1 unexpected byte after its last weight chunk (file corrupted)")
  }

  @Test func undecompressableChunkIsRefused() throws {
    let (header, weights) = try Self.parts(PlanFile.encode(Self.small))
    let garbage = [UInt8](repeating: 0x55, count: weights.count)
    let message = try #require(Self.refusal(try Self.file(header, weights: garbage)))
    #expect(message.hasPrefix("weight chunk 0 is corrupted (zstd decompression failed: "))
  }
}

// MARK: - Refusing inconsistent headers (with valid checksums)

extension PlanFileTests {
  static let headerCases: [(String, @Sendable (inout PlanFile.Header) -> Void)] = [
    (
      "plan header is corrupted: instruction 0 ('node/one') input 2 is slot 99, but the plan "
        + "has 11 slots",
      { $0.plan.instructions[0].inputs[2] = 99 }
    ),
    (
      "plan header is corrupted: plan output 1 is slot -2, but the plan has 11 slots",
      { $0.plan.outputs[1] = -2 }
    ),
    (
      "plan header is corrupted: it says format version 3, the file says 2",
      { $0.formatVersion = 3 }
    ),
    (
      "plan header is corrupted: the weight of slot 3 ('ids') is float32 but the slot is int64",
      { $0.constants[1].dtype = .float }
    ),
    (
      "plan header is corrupted: slot 3 ('ids') has two weights",
      { $0.constants[2].slot = 3 }
    ),
    (
      "plan header is corrupted: the weight of slot 3 ('ids'): it starts at byte 1232 of the "
        + "weight stream, which is not 64-byte aligned",
      { $0.constants[1].offset += 16 }
    ),
    (
      "plan header is corrupted: the weight of slot 8 ('noise'): bytes 1536 (+2000) lie "
        + "outside the 3472-byte weight stream",
      { $0.constants[6].offset += 64 }
    ),
    (
      "plan header is corrupted: the weight of slot 3 ('ids'): data has 24 bytes and 0 strings "
        + "but dims [4] of int64 need 32 bytes and no strings",
      { $0.constants[1].shape = [4] }
    ),
    (
      "plan header is corrupted: the weight of slot 6 ('names'): string tensor has 2 elements "
        + "and 0 data bytes but its dims [3] need 3 elements and no data bytes",
      { $0.constants[4].strings.removeLast() }
    ),
    (
      "plan header is corrupted: weight chunk 0 starts at byte 1 of the weight section, "
        + "expected 0",
      { $0.chunks[0].offset = 1 }
    ),
    (
      "plan header is corrupted: weight chunk 0 of 1 holds 4194305 bytes (every chunk holds "
        + "4194304, the last one 1 to 4194304)",
      { $0.chunks[0].rawLength = 4_194_305 }
    ),
    (
      "plan header is corrupted: weight chunk 0 has a 31-byte checksum, expected 32",
      { $0.chunks[0].sha256.removeLast() }
    ),
    (
      "plan header is corrupted: the source model digest has 3 bytes, expected 32 (or none)",
      { $0.plan.sourceSHA256 = [1, 2, 3] }
    ),
  ]

  @Test(arguments: 0..<headerCases.count)
  func inconsistentHeaderIsRefused(_ index: Int) throws {
    let (expected, change) = Self.headerCases[index]
    #expect(Self.refusal(try Self.smallFile(changing: change)) == expected)
  }

  @Test func aChunkPastTheEndIsTruncation() throws {
    let bytes = try Self.smallFile { $0.chunks[0].compressedLength += 10 }
    let message = try #require(Self.refusal(bytes))
    #expect(message.hasPrefix("plan file is truncated: weight chunk 0 needs "), "\(message)")
  }

  @Test func undecodableHeaderIsRefused() throws {
    let garbage: [UInt8] = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]
    #expect(
      Self.refusal(Self.file(headerBytes: garbage, weights: []))
        == "plan header is corrupted: protobuf decoding failed")
  }

  @Test func deeplyNestedDimIsRefusedBeforeProtobufC() throws {
    // Slot { dims: DimExpr { Term { Atom { FloorDiv { DimExpr { … } } } } } }, 1,000 deep.
    func field(_ number: UInt8, _ body: [UInt8]) -> [UInt8] {
      var bytes: [UInt8] = [number << 3 | 2]
      var length = body.count
      while length >= 0x80 {
        bytes.append(UInt8(length & 0x7f) | 0x80)
        length >>= 7
      }
      return bytes + [UInt8(length)] + body
    }
    var dim: [UInt8] = []
    for _ in 0..<1_000 {
      dim = field(1, field(2, field(2, field(1, dim) + [0x10, 0x02])))
    }
    let header = field(6, field(3, dim))
    #expect(
      Self.refusal(Self.file(headerBytes: header, weights: []))
        == "plan header is corrupted: messages nest more than 64 levels deep")
  }

  @Test func mutatedHeadersNeverCrash() throws {
    let bytes = try PlanFile.encode(Self.small)
    let (_, weights) = try Self.parts(bytes)
    let headerBytes = Array(bytes[16..<(bytes.count - weights.count - 32)])
    let noise = Self.pseudoRandomBytes(3 * 400, seed: 7)
    var refused = 0
    for trial in 0..<400 {
      var mutated = headerBytes
      let position = Int(noise[3 * trial]) << 8 | Int(noise[3 * trial + 1])
      mutated[position % mutated.count] = noise[3 * trial + 2]
      if Self.refusal(Self.file(headerBytes: mutated, weights: weights)) != nil { refused += 1 }
    }
    // Most changes break something; a few (a changed name or float) give another valid plan.
    #expect(refused > 100)
  }
}

// MARK: - Refusing plans that cannot be stored

extension PlanFileTests {
  static func encodingError(_ change: (inout Plan) -> Void) -> String? {
    var plan = small
    change(&plan)
    do {
      _ = try PlanFile.encode(plan)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func encodeRefusesInconsistentPlans() {
    #expect(
      Self.encodingError { $0.instructions[1].outputs = [42] }
        == "invalid plan: instruction 1 ('') output 0 is slot 42, but the plan has 11 slots")
    #expect(
      Self.encodingError { $0.constants[3] = HostTensor(floats: [1, 2, 3], shape: [3]) }
        == "invalid plan: the weight of slot 3 ('ids') is float32 but the slot is int64")
    #expect(
      Self.encodingError { $0.constants[6] = HostTensor(strings: ["a"], shape: [3]) }
        == "invalid plan: the weight of slot 6 ('names'): string tensor has 1 elements and 0 "
        + "data bytes but its dims [3] need 3 elements and no data bytes")
    #expect(
      Self.encodingError { $0.slots[4].name = "a\u{0}b" }
        == "invalid plan: a slot name contains a NUL character, which a plan cannot store")
  }

  @Test func encodeRefusesDimsNestedTooDeeplyToReadBack() throws {
    // ((seq/2 + 1)/2 + 1)/2…: one floor division inside another, `depth` times (without the
    // `+ 1`, ⌊⌊x/2⌋/2⌋ would merge into ⌊x/4⌋).
    func nested(_ depth: Int) -> Dim {
      (0..<depth).reduce(Self.seq) { dim, _ in (dim + 1).floorDivided(by: 2) }
    }
    let message = Self.encodingError { $0.slots[0].dims = [nested(15)] }
    #expect(message?.hasPrefix("invalid plan: a dim expression nests floor divisions") == true)
    let bytes = Result { () throws -> [UInt8] in
      var plan = Self.small
      plan.slots[0].dims = [nested(14)]
      plan.instructions[1].call = ReshapeCall(dims: [nested(14)])
      return try PlanFile.encode(plan)
    }
    #expect(try Self.decode(bytes.get()).slots[0].dims == [nested(14)])
  }
}

// MARK: - Files

extension PlanFileTests {
  @Test func writeReplacesAtomicallyAndLeavesNoTemporaryFile() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/model.attnc"
    try Data("an older file".utf8).write(to: URL(fileURLWithPath: path))
    try PlanFile.write(Self.small, to: path)
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.attnc"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(PlanFile.encode(Self.small)))
    Self.expectSame(try PlanFile.read(path), Self.small)

    var other = Self.small
    other.policy = "fastest"
    try PlanFile.write(other, to: path)
    #expect(try PlanFile.read(path).policy == "fastest")
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.attnc"])
  }

  @Test func failedWriteRemovesItsTemporaryFile() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    // The destination is a non-empty folder: the rename fails after the data was written.
    let path = folder + "/taken"
    try FileManager.default.createDirectory(
      atPath: path + "/inside", withIntermediateDirectories: true)
    let error = try #require(throws: AttncError.self) { try PlanFile.write(Self.small, to: path) }
    #expect(error.code == .io)
    #expect(error.message.hasPrefix("cannot rename '\(folder)/.taken.tmp-"), "\(error)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["taken"])
  }

  @Test func writeIntoAMissingFolderFails() throws {
    let error = try #require(throws: AttncError.self) {
      try PlanFile.write(Self.small, to: "/nonexistent-attnc-folder/model.attnc")
    }
    #expect(error.code == .io)
    #expect(error.message.hasPrefix("cannot create '/nonexistent-attnc-folder/.model.attnc.tmp-"))
  }

  @Test func readingAMissingFileIsAnIOError() throws {
    let error = try #require(throws: AttncError.self) {
      try PlanFile.read("/nonexistent-attnc-folder/model.attnc")
    }
    #expect(error.code == .io)
  }

  @Test func readingAnEmptyFileIsTruncation() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/empty.attnc"
    #expect(FileManager.default.createFile(atPath: path, contents: Data()))
    let error = try #require(throws: AttncError.self) { try PlanFile.read(path) }
    #expect(error.message == "plan file is truncated: the file is empty")
  }
}
