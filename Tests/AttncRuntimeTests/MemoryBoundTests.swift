@testable import AttncRuntime
import AttncTensor
import Testing

/// Input shapes whose values cannot fit in memory are refused with the size needed, before
/// anything is allocated; dims that overflow 64 bits are refused, not trapped on.
@Suite struct MemoryBoundTests {
  @Test func aValueLargerThanTheLimitIsRefusedWithItsSize() throws {
    // [seq, 4] floats at seq = 10^9: 16 GB, against a 1 GiB limit.
    let plan = ArenaPlanTests.plan()
    #expect(throws: AttncError.invalid(
      "value 'x' of shape [1000000000, 4] needs 14.9 GiB (seq = 1000000000), more than this machine's "
        + "1.0 GiB of memory"
    )) { try MemoryBound.checkValues(plan, bindings: ["seq": 1_000_000_000], limit: 1 << 30) }
    try MemoryBound.checkValues(plan, bindings: ["seq": 10], limit: 1 << 30)
  }

  @Test func aSizeBeyond64BitsIsRefused() throws {
    let plan = ArenaPlanTests.plan()
    #expect(throws: AttncError.invalid(
      "value 'x' of shape [4611686018427387904, 4] needs more than 2^63 bytes (seq = 4611686018427387904), "
        + "more than this machine's 1.0 GiB of memory"
    )) { try MemoryBound.checkValues(plan, bindings: ["seq": 1 << 62], limit: 1 << 30) }
  }

  @Test func anArenaLargerThanTheLimitIsRefused() throws {
    let plan = ArenaPlanTests.plan()
    let arena = ArenaPlan.make(plan, bindings: ["seq": 100_000])
    #expect(throws: AttncError.invalid(
      "the run needs a 3.1 MiB arena for the values alive at once (seq = 100000), more than this "
        + "machine's 1.0 MiB of memory"
    )) { try MemoryBound.checkArena(arena, bindings: ["seq": 100_000], limit: 1 << 20) }
    try MemoryBound.checkArena(arena, bindings: ["seq": 100_000], limit: 1 << 30)
  }

  @Test func aDimThatOverflowsIsAnErrorNotATrap() throws {
    let dim = Dim.symbol("seq") * 4 + 1
    #expect(try dim.checkedValue(["seq": 3]) == 13)
    #expect(try dim.checkedValue([:]) == nil)
    #expect(throws: AttncError.invalid("dim 4*seq + 1 does not fit in 64 bits at seq = 4611686018427387904")) {
      try dim.checkedValue(["seq": 1 << 62])
    }
    #expect(dim.evaluate(["seq": 1 << 62]) == nil)
  }
}
