import AttncKernels
import Testing

/// `FloatBuffer` keeps value semantics when its elements are in an arena.
@Suite struct FloatBufferTests {
  @Test func aWriteToASharedRegionCopiesOut() throws {
    let arena = try Arena(bytes: 256)
    var original = arena.region(offset: 64, count: 4)
    original.withUnsafeMutableBufferPointer { buffer in
      for i in buffer.indices { buffer[i] = Float(i) }
    }
    #expect(original.isInArena, "the only holder writes in place")
    var copy = original
    copy[1] = 10
    #expect(!copy.isInArena, "a write to shared arena memory moves the copy out")
    #expect(copy == [0, 10, 2, 3])
    #expect(original == [0, 1, 2, 3], "the original is untouched")
    #expect(arena.offset(of: original) == 64)
    #expect(arena.offset(of: copy) == nil)
  }

  @Test func behavesLikeAnArray() throws {
    let arena = try Arena(bytes: 128)
    var buffer = arena.region(offset: 0, count: 3)
    buffer.withUnsafeMutableBufferPointer { $0.initialize(repeating: 2) }
    #expect(buffer.reduce(0, +) == 6)
    #expect(Array(buffer[1..<3]) == [2, 2])
    #expect(buffer.map { $0 * 2 } == [4, 4, 4])
    buffer.append(5)
    #expect(!buffer.isInArena && buffer == [2, 2, 2, 5])
    let literal: FloatBuffer = [1, 2]
    #expect(literal.owned == [1, 2] && literal.count == 2)
  }
}
