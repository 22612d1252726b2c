import Testing
@testable import AttncRuntime

@Suite struct ScratchFlipTests {
  @Test func exhaustive() throws {
    let bytes = try PlanFile.encode(PlanFileTests.small)
    let (h, w) = try PlanFileTests.parts(bytes)
    let start = bytes.count - w.count
    print("section start", start, "chunk", h.chunks)
    print(Array(bytes[start..<(start + 24)]).map { String($0, radix: 16) })
    print(Array(bytes[(bytes.count - 40)...]).map { String($0, radix: 16) })
    var accepted: [(Int, UInt8)] = []
    for position in start..<bytes.count {
      for value in 0...255 where value != Int(bytes[position]) {
        var copy = bytes
        copy[position] = UInt8(value)
        if PlanFileTests.refusal(copy) == nil { accepted.append((position - start, UInt8(value))) }
      }
    }
    print("accepted byte replacements", accepted.count, accepted.prefix(40))
  }
}
