import AttncKit
import AttncTestSupport
import Foundation
import Testing

/// `convert --to onnx` as a user runs it: the written model reads back through attnc's own
/// decoder and runs to the same outputs; what has no standard form is refused with the reason.
/// (ONNX Runtime and the onnx checker on the written files: python/tests/test_onnx_output.py.)
@Suite struct ONNXOutputCommandTests {
  static let sample = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny").path

  @Test(arguments: [["--policy", "exact"], ["--policy", "exact", "--target-opset", "23"], ["--variant", "performer:m=16"], ["--variant", "linformer:k=4"], ["--variant", "nystrom:m=8"]])
  func writtenModelConvertsAgainAndMatches(_ options: [String]) throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let onnx = folder.appendingPathComponent("out.onnx").path, plan = folder.appendingPathComponent("again.attnc").path
    let convert = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx] + options)
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("standard ONNX"))
    let again = try CLI.run(["convert", onnx, "-o", plan, "--policy", "exact"])
    #expect(again.status == 0, "\(again.stderr)")
    if options.first == "--variant" {
      // attnc inlines the ai.attnc function on reading (its attention is no longer softmax, so
      // it runs as the standard ops written): the direct variant plan must agree with it.
      let written = try Compiler.plan(onnx).plan
      let direct = try Compiler.plan(Self.sample + "/model.onnx", variant: options[1]).plan
      let inputs = try (0..<2).map { try TensorFiles.readProto(Self.sample + "/test_data_set_0/input_\($0).pb") }
      let report = try Verification.verify(direct, reference: written, inputs: inputs)
      #expect(report.outputError <= 1e-4, "\(report.outputs)")
      // And the written file against the model it came from, as a user checks it.
      let checked = try CLI.run(["verify", onnx, "--reference", Self.sample + "/model.onnx", "--test-data", Self.sample + "/test_data_set_0"])
      #expect(checked.status == 0, "\(checked.stderr)")
      #expect(checked.stdout.contains("output last_hidden_state: relative error"), "\(checked.stdout)")
    } else {
      let run = try CLI.run(["run", plan, "--test-data", Self.sample + "/test_data_set_0"])
      #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    }
  }

  @Test func refusesWhatHasNoStandardFormWithTheReason() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let onnx = folder.appendingPathComponent("sb.onnx").path
    let result = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx, "--variant", "scatterbrain"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("scatterbrain") && result.stderr.contains("has no standard ONNX form: its sparse support is data-dependent"), "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: onnx))
    let int8 = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx, "--variant", "softmax:prec=int8"])
    #expect(int8.status == 2)
    #expect(int8.stderr.contains("has no standard ONNX form: prec=bf16 rounds") && int8.stderr.contains("prec=int8 quantizes Q and K"), "\(int8.stderr)")
    #expect(!FileManager.default.fileExists(atPath: onnx))
    let old = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx, "--policy", "exact", "--target-opset", "14"])
    #expect(old.status == 2)
    #expect(old.stderr.contains("older than the model's opset 17"), "\(old.stderr)")
  }

  @Test func writesTokenMergingAsLocalFunctions() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let onnx = folder.appendingPathComponent("merged.onnx").path
    let result = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx, "--policy", "exact", "--token-merge", "1"])
    #expect(result.status == 0, "\(result.stderr)")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: onnx))
    // The merges as ai.attnc functions; the unmerge of the per-token output as a Gather.
    #expect(bytes.range(of: Data("token_merge_0".utf8)) != nil && bytes.range(of: Data("ScatterND".utf8)) != nil)
    // attnc reads the written merge back (ArgMax, TopK, ScatterND): its error against the
    // model is the merged plan's.
    let plan = folder.appendingPathComponent("merged.attnc").path
    let direct = try CLI.run(["convert", Self.sample + "/model.onnx", "-o", plan, "--policy", "exact", "--token-merge", "1"])
    #expect(direct.status == 0, "\(direct.stderr)")
    func outputError(_ path: String) throws -> String? {
      let verified = try CLI.run(["verify", path, "--reference", Self.sample + "/model.onnx", "--test-data", Self.sample + "/test_data_set_0"])
      return verified.stdout.split(separator: "\n").first { $0.contains("output last_hidden_state") }.map(String.init)
    }
    let (written, planned) = (try outputError(onnx), try outputError(plan))
    #expect(written != nil && written == planned, "\(String(describing: written)) vs \(String(describing: planned))")
    let tooOld = try CLI.run(["convert", Self.sample + "/model.onnx", "--to", "onnx", "-o", onnx, "--force", "--token-merge", "1", "--target-opset", "15"])
    #expect(tooOld.status == 2)
  }
}
