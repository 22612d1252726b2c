import AttncTensor
import Foundation
import Testing

@testable import AttncRuntime

/// `PlanFile.readHeader`: the plan without its weights, for the batch skip rule.
extension PlanFileTests {
  /// Writes `bytes` to a fresh file and returns its path.
  static func fileOnDisk(_ bytes: [UInt8]) throws -> String {
    let path = try temporaryFolder() + "/plan.attnc"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test func readHeaderKeepsEveryFieldButTheWeights() throws {
    let path = try Self.fileOnDisk(try Self.bigBytes.get())
    let header = try PlanFile.readHeader(path)
    var expected = Self.big
    expected.constants = [:]
    Self.expectSame(header, expected)
  }

  @Test func readHeaderRefusesTruncatedAndExtendedFiles() throws {
    let bytes = try Self.bigBytes.get()
    for length in [0, 10, 100, bytes.count / 2, bytes.count - 1] {
      let path = try Self.fileOnDisk(Array(bytes.prefix(length)))
      #expect(throws: AttncError.self, "\(length) bytes") { try PlanFile.readHeader(path) }
    }
    let extended = try Self.fileOnDisk(bytes + [0])
    #expect(throws: AttncError.self) { try PlanFile.readHeader(extended) }
  }

  @Test func readHeaderRefusesAFlippedHeaderByte() throws {
    var bytes = try PlanFile.encode(Self.small)
    bytes[PlanFile.prefixLength + 3] ^= 0x10
    let path = try Self.fileOnDisk(bytes)
    #expect(throws: AttncError.invalid("plan header checksum mismatch (file corrupted)")) {
      try PlanFile.readHeader(path)
    }
  }

  /// The weights are neither decompressed nor checksummed: a flipped weight byte passes
  /// `readHeader` and is caught by `read`.
  @Test func readHeaderLeavesTheWeightsToRead() throws {
    var bytes = try Self.bigBytes.get()
    bytes[bytes.count - 10] ^= 0xFF
    let path = try Self.fileOnDisk(bytes)
    #expect(throws: Never.self) { try PlanFile.readHeader(path) }
    #expect(throws: AttncError.self) { try PlanFile.read(path) }
  }

  @Test func temporaryNamesNeverLookLikePlans() {
    let temporary = PlanFile.temporaryPath(for: "out/bert/model.attnc", processID: 4242)
    #expect(temporary == "out/bert/.model.attnc.tmp-4242")
    #expect(!temporary.hasSuffix(".attnc"))
    #expect(PlanFile.isTemporary(".model.attnc.tmp-4242", for: "model.attnc"))
    #expect(!PlanFile.isTemporary(".model.attnc.tmp-", for: "model.attnc"))
    #expect(!PlanFile.isTemporary(".model.attnc.tmp-12x", for: "model.attnc"))
    #expect(!PlanFile.isTemporary(".other.attnc.tmp-1", for: "model.attnc"))
  }
}

// MARK: - Fuzz regressions

/// A plan dim whose coefficient is 2^62 (the dims fuzz target's input): it decodes, and the
/// algebra the runtime applies to it marks the overflow instead of trapping.
@Suite struct PlanDimOverflowTests {
  /// attnc.DimExpr { terms { coefficient: 2^62, atoms { symbol: "seq" } } }
  static let bytes: [UInt8] = [
    0x0a, 0x11, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x12, 0x05, 0x0a, 0x03, 0x73, 0x65, 0x71,
  ]

  @Test func aHugeCoefficientDecodesAndItsArithmeticDoesNotTrap() throws {
    let dim = try Self.bytes.withUnsafeBytes { try PlanCodec.unpackDim($0) }
    #expect(dim == Dim.symbol("seq") * Dim(1 << 62))
    #expect((dim * 2).isOverflowed)
    #expect((dim + dim).isOverflowed)
    #expect(dim.evaluate(["seq": 4]) == nil)
    #expect(throws: AttncError.self) { try dim.checkedValue(["seq": 4]) }
  }

  /// The dims fuzz target's crash of the CI smoke run: -2^63 * seq - 2^63 printed with abs(),
  /// which traps on Int.min.
  static let smallest: [UInt8] = [
    0x0a, 0x12, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x12, 0x05, 0x0a, 0x03, 0x73,
    0x65, 0x71, 0x0a, 0x0b, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01,
  ]

  @Test func theSmallestCoefficientPrints() throws {
    let dim = try Self.smallest.withUnsafeBytes { try PlanCodec.unpackDim($0) }
    #expect(dim.description == "-9223372036854775808*seq - 9223372036854775808")
    #expect((-dim).isOverflowed)
  }
}
