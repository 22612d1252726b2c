import ArgumentParser
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc verify <plan> --reference model.onnx`: the plan's error against the exact model.
struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compare a plan's results with the exact model's, end to end and per attention layer.",
    discussion: """
      Converts --reference exactly, runs both on the same inputs (--test-data and/or --input, as \
      in `attnc run`) and prints each output's relative error ‖y − y_ref‖_F / ‖y_ref‖_F and, \
      for every attention layer, its own error: its output against exact attention on the \
      same q, k, v. Exit status 1 when --max-output-error is given and exceeded.

      Given an ONNX file that `convert --to onnx` wrote instead of a plan, verify converts it \
      exactly (its ai.attnc variant functions inlined, so they run as the standard ops \
      written) and compares its outputs with --reference's; its metadata must name \
      --reference's SHA-256. Per-layer errors are given for plans only.

      Examples:
        attnc convert bert.onnx -o bert-nys.attnc --variant nystrom
        attnc verify bert-nys.attnc --reference bert.onnx --test-data test_data_set_0
        attnc verify bert-nys.attnc --reference bert.onnx --input input_ids=ids.npy --format json
        attnc convert bert.onnx --to onnx -o fast.onnx --variant performer:m=64
        attnc verify fast.onnx --reference bert.onnx --test-data test_data_set_0
      """)

  @Argument(help: "The plan to check, or an ONNX file `convert --to onnx` wrote.")
  var plan: String

  @Option(help: "The ONNX model the plan was converted from.")
  var reference: String

  @OptionGroup var inputs: PlanInputOptions

  @Option(help: "Fail (exit 1) when the largest output error exceeds this.")
  var maxOutputError: Double?

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  @OptionGroup var shapes: ShapeOptions

  func run() throws {
    let exact = try Compiler.plan(reference, options: try shapes.importOptions()).plan
    let loaded: Plan, feeds: [HostTensor]
    if plan.hasSuffix(".onnx") {
      inputs.threading.configure()
      let written = try Compiler.plan(plan, options: try shapes.importOptions())
      let source = written.model.imported.info.metadata["attnc.source_sha256"]
      guard source == exact.sourceSHA256.map({ String(format: "%02x", $0) }).joined() else {
        throw AttncError(.usage, "\(plan) was not written from \(reference) (its attnc.source_sha256 is \(source.map { "'\($0)'" } ?? "absent"))")
      }
      (loaded, feeds) = (written.plan, try inputs.feeds(for: written.plan))
    } else {
      (loaded, feeds) = try inputs.load(plan)
      guard exact.sourceSHA256 == loaded.sourceSHA256 else {
        throw AttncError(.usage, "\(plan) was not converted from \(reference) (source SHA-256 differs)")
      }
    }
    let report = try withContext(plan) { try Verification.verify(loaded, reference: exact, inputs: feeds) }
    if format == .json {
      print(report.json.rendered())
    } else {
      print("plan \(plan) against \(reference)")
      let merges = Verification.tokenMerges(in: loaded)
      if merges > 0 {
        print("  \(merges) token merges (\(loaded.options)): the output errors include merging; the attention errors are the variants' alone")
      }
      for output in report.outputs { print("  output \(output.name): relative error \(String(format: "%.4g", output.error))") }
      for layer in report.layers {
        print("  layer \(layer.layer) \(layer.variant.padding(toLength: 14, withPad: " ", startingAt: 0)) attention error \(String(format: "%.4g", layer.error))  (\(layer.node))")
      }
    }
    if let maxOutputError, report.outputError > maxOutputError {
      throw AttncError(.verification, "output error \(String(format: "%.4g", report.outputError)) exceeds --max-output-error \(maxOutputError)")
    }
  }
}
