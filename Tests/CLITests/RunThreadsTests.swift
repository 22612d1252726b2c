import AttncKit
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `attnc run --threads N` with N above the machine's cores runs on the cores and says so;
/// `--warmup` runs untimed before the timed `--repeat` runs.
@Suite struct RunThreadsTests {
  /// A converted one-node plan (y = −x over 4 floats) and an input file for it, in `directory`.
  static func negationPlan(in directory: URL) throws -> (plan: String, input: URL) {
    let model = try OnnxBuilder().input("x", ["4"]).node("Neg", ["x"], ["y"]).output("y").write(to: directory)
    let plan = directory.appendingPathComponent("neg.attnc").path
    let input = directory.appendingPathComponent("x.npy")
    try Data(NPY.encode(HostTensor(floats: [1, 2, 3, 4], shape: [4]))).write(to: input)
    #expect(try CLI.run(["convert", model, "-o", plan, "--policy", "exact"]).status == 0)
    return (plan, input)
  }

  @Test func threadsAboveTheCoresAreReducedWithANote() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (plan, input) = try Self.negationPlan(in: directory)
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let result = try CLI.run(["run", plan, "--input", "x=\(input.path)", "--threads", "\(cores + 1)", "--stats"])
    #expect(result.status == 0)
    #expect(result.stderr.contains("attnc: --threads \(cores + 1) is more than the \(cores) cores here; running on \(cores)"))
    #expect(result.stdout.contains(", \(cores) threads"))
  }

  @Test func warmupRunsAreNotTimed() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let (plan, input) = try Self.negationPlan(in: directory)
    let result = try CLI.run(["run", plan, "--input", "x=\(input.path)", "--warmup", "2", "--repeat", "3", "--stats"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("over 3 runs after 2 untimed"), "\(result.stdout)")
    let refused = try CLI.run(["run", plan, "--input", "x=\(input.path)", "--warmup=-1"])
    #expect(refused.status != 0 && refused.stderr.contains("--warmup must be 0 or more"), "\(refused.stderr)")
  }
}
