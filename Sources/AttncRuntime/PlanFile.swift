import AttncTensor
import Dispatch

/// The plan file: how a `Plan` is stored on disk (schemas/plan.proto describes the header).
///
/// Layout, integers little-endian:
///
///     "ATTNCPLN"                  8 bytes
///     format version              u32 (`Plan.formatVersion`)
///     header length               u32
///     PlanHeader protobuf         header length bytes
///     SHA-256 of the header       32 bytes
///     weight section              zstd frames, one per chunk, back to back, nothing after
///
/// The weight stream is every constant's bytes in slot order, each starting 64-byte aligned
/// (zero padding between), cut into 4 MiB chunks (the last one shorter). Each chunk is
/// compressed alone and checksummed (SHA-256 of its raw bytes) in the header.
///
/// Writing: `encode` / `write` (PlanWriter.swift). Reading, which verifies everything before
/// trusting it: `decode` / `read` (PlanReader.swift). The protobuf-c calls live in
/// PlanCodec.swift.
public enum PlanFile {
  /// The first 8 bytes of every plan file.
  static let magic: [UInt8] = Array("ATTNCPLN".utf8)
  /// Bytes before the header: magic, version, header length.
  static let prefixLength = 16
  /// Raw (uncompressed) bytes per weight chunk; every chunk but the last holds exactly this.
  static let chunkSize = 4 << 20
  /// Every weight starts at a multiple of this in the weight stream.
  static let alignment = 64
  /// The zstd level weights are compressed at.
  static let compressionLevel: Int32 = 3

  // MARK: - The header, as Swift values

  /// The decoded `PlanHeader`: the plan without its weights, where each weight lies in the
  /// weight stream, and the chunks that hold the stream.
  struct Header {
    var formatVersion: UInt32
    /// Every field of the plan except `constants`, which is empty here.
    var plan: Plan
    var constants: [ConstantRef]
    var chunks: [Chunk]
  }

  /// Where one constant slot's weight lies in the uncompressed weight stream.
  struct ConstantRef: Equatable {
    var slot: Int
    var dtype: DType
    var shape: [Int]
    /// Byte range `offset..<offset + length` of the weight stream (0 and 0 for strings).
    var offset: Int
    var length: Int
    /// Elements of a string tensor.
    var strings: [String]
  }

  /// One zstd frame of the weight section.
  struct Chunk: Equatable {
    /// Byte range `offset..<offset + compressedLength` of the weight section.
    var offset: Int
    var compressedLength: Int
    /// Bytes it expands to: `chunkSize`, or less for the last chunk.
    var rawLength: Int
    /// SHA-256 of the raw bytes.
    var sha256: [UInt8]
  }

  // MARK: - Consistency shared by writer and reader

  /// Checks that every slot index in `plan` and `weights` is in range, each weight's dtype is
  /// its slot's, and no slot has two weights.
  ///
  /// The writer calls it on the plan it is given, the reader on what it decoded, so a plan that
  /// encodes also decodes.
  /// - Throws: `AttncError.invalid` with a message naming the instruction and slot.
  static func checkIndices(_ plan: Plan, weights: [(slot: Int, dtype: DType)]) throws {
    guard plan.sourceSHA256.isEmpty || plan.sourceSHA256.count == 32 else {
      throw AttncError.invalid(
        "the source model digest has \(plan.sourceSHA256.count) bytes, expected 32 (or none)")
    }
    guard plan.slots.count <= Int(Int32.max) else {
      throw AttncError.invalid("the plan has \(plan.slots.count) slots, more than a plan holds")
    }
    let slotCount = plan.slots.count
    func check(_ slot: Int, _ what: @autoclosure () -> String) throws {
      guard slot >= 0, slot < slotCount else {
        throw AttncError.invalid("\(what()) is slot \(slot), but the plan has \(slotCount) slots")
      }
    }
    for (position, slot) in plan.inputs.enumerated() {
      try check(slot, "plan input \(position)")
    }
    for (position, slot) in plan.outputs.enumerated() {
      try check(slot, "plan output \(position)")
    }
    for (index, instruction) in plan.instructions.enumerated() {
      let name = "instruction \(index) ('\(instruction.label)')"
      for (position, slot) in instruction.inputs.enumerated() {
        if let slot { try check(slot, "\(name) input \(position)") }
      }
      for (position, slot) in instruction.outputs.enumerated() {
        try check(slot, "\(name) output \(position)")
      }
    }
    var seen = Set<Int>()
    for weight in weights {
      try check(weight.slot, "a weight")
      let slot = plan.slots[weight.slot]
      guard seen.insert(weight.slot).inserted else {
        throw AttncError.invalid("slot \(weight.slot) ('\(slot.name)') has two weights")
      }
      guard weight.dtype == slot.dtype else {
        throw AttncError.invalid(
          "the weight of slot \(weight.slot) ('\(slot.name)') is \(weight.dtype) but the slot "
            + "is \(slot.dtype)")
      }
    }
  }

  /// Checks that a weight of `dtype` and `shape` has `length` bytes (non-strings) or
  /// `stringCount` elements (strings, stored with length 0).
  ///
  /// - Throws: `AttncError.invalid` ("data has 24 bytes but dims [4] of int64 need 32").
  static func checkWeightSize(
    dtype: DType, shape: [Int], length: Int, stringCount: Int
  ) throws {
    let count = try HostTensor.elementCount(shape)
    if dtype == .string {
      guard stringCount == count, length == 0 else {
        throw AttncError.invalid(
          "string tensor has \(stringCount) elements and \(length) data bytes but its dims "
            + "\(shape) need \(count) elements and no data bytes")
      }
    } else {
      let expected = dtype.byteCount(elements: count)
      guard length == expected, stringCount == 0 else {
        throw AttncError.invalid(
          "data has \(length) bytes and \(stringCount) strings but dims \(shape) of \(dtype) "
            + "need \(expected) bytes and no strings")
      }
    }
  }

  /// `value` rounded up to a multiple of `alignment`.
  static func aligned(_ value: Int) -> Int {
    (value + alignment - 1) / alignment * alignment
  }
}

// MARK: - Parallel chunks

extension PlanFile {
  /// `body(0)`, …, `body(count - 1)`, run on every core; chunks are independent, and results
  /// come back in index order, so the outcome does not depend on scheduling.
  static func parallelMap<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
    var results = [T?](repeating: nil, count: count)
    results.withUnsafeMutableBufferPointer { slots in
      // Each iteration writes only its own slot.
      DispatchQueue.concurrentPerform(iterations: count) { index in
        slots[index] = body(index)
      }
    }
    let values = results.compactMap { $0 }
    precondition(values.count == count, "a parallel iteration produced no result")
    return values
  }
}
