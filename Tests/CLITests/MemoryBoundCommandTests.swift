import AttncKit
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `attnc run` refuses input shapes whose values need more memory than the machine has, with
/// the size needed, before allocating them (instead of being killed by the out-of-memory killer).
@Suite struct MemoryBoundCommandTests {
  /// A `.npy` of float32 `shape` whose data is a hole in a sparse file: the header is real, the
  /// gigabytes after it take no disk and are never read.
  static func sparseNPY(shape: [Int], at url: URL) throws {
    let header = try NPY.encode(HostTensor(floats: [], shape: [0]))
    var bytes = [UInt8](header)
    // Rewrite the shape in place: the header is padded, so the longer text fits.
    let text = String(decoding: bytes[10...], as: UTF8.self)
    let shapeText = "(\(shape.map(String.init).joined(separator: ", ")))"
    var fixed = text.replacingOccurrences(of: "(0,)", with: shapeText)
    fixed = String(fixed.dropLast(fixed.utf8.count - text.utf8.count + 1)) + "\n"
    bytes.replaceSubrange(10..., with: Array(fixed.utf8))
    try Data(bytes).write(to: url)
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: UInt64(bytes.count + shape.reduce(4, *)))
    try handle.close()
  }

  @Test func anOuterProductOfTwoLongInputsIsRefusedWithItsSize() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let model = try OnnxBuilder().input("a", ["n", "1"]).input("b", ["1", "n"])
      .node("Mul", ["a", "b"], ["y"], name: "outer").output("y").write(to: directory)
    let plan = directory.appendingPathComponent("outer.attnc").path
    #expect(try CLI.run(["convert", model, "-o", plan, "--policy", "exact"]).status == 0)
    let n = 1_000_000_000
    let a = directory.appendingPathComponent("a.npy")
    let b = directory.appendingPathComponent("b.npy")
    try Self.sparseNPY(shape: [n, 1], at: a)
    try Self.sparseNPY(shape: [1, n], at: b)
    let result = try CLI.run(["run", plan, "--input", "a=\(a.path)", "--input", "b=\(b.path)"])
    #expect(result.status == 2)
    #expect(result.stderr.hasPrefix("error: \(plan): value 'y' of shape [1000000000, 1000000000] needs 3.5 EiB (n = 1000000000), more than this machine's "), "\(result.stderr)")
  }

  /// `convert` measures a policy's error on generated inputs at `--seq-len`: at 10^9 tokens
  /// those inputs alone would be 238 GiB, refused before they are generated.
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func aCalibrationLengthBeyondMemoryIsRefusedByConvert() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let plan = directory.appendingPathComponent("long.attnc").path
    let result = try CLI.run([
      "convert", Fixtures.model("attention_op_causal"), "-o", plan, "--policy", "balanced", "--seq-len", "1000000000",
    ])
    #expect(result.status == 2)
    #expect(result.stderr.contains("value 'x' of shape [1, 1000000000, 64] needs 238.4 GiB (batch = 1, seq = 1000000000), more than this machine's "), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: plan))
  }
}
