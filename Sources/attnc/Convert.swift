import ArgumentParser
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc convert <model.onnx> -o <model.attnc>`: compile a model into an execution plan.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile an ONNX model into an attnc plan.",
    discussion: """
      Imports and canonicalizes the model, lowers every node to a kernel and writes one
      versioned, checksummed plan file (weights zstd-compressed in chunks). The file is written
      to a temporary name and renamed, so an interrupted run never leaves a partial plan.

      Every softmax attention the matcher finds runs as one fused attention node. Under
      `--policy exact` it is the exact tiled kernel; `--variant NAME[:key=value,...]` puts an
      efficient variant on every matched layer that can honour its mask (the others stay exact,
      and are listed). Variants: \(VariantHelp.names). `attnc variants` describes them.

      Examples:
        attnc convert model.onnx -o model.attnc
        attnc convert model.onnx -o fast.attnc --variant performer:m=128
        attnc convert bert.onnx -o nys.attnc --variant nystrom:m=64 --force
        attnc run model.attnc --test-data test_data_set_0
      """)

  @Argument(help: "The ONNX model file.")
  var model: String

  @Option(name: .shortAndLong, help: "Where to write the plan (default: <model>.attnc beside it).")
  var output: String?

  @OptionGroup var policyOptions: PolicyOptions

  @Flag(help: "Overwrite an existing plan.")
  var force = false

  @OptionGroup var shapes: ShapeOptions

  func run() throws {
    let destination = output ?? URL(fileURLWithPath: model).deletingPathExtension().appendingPathExtension("attnc").path
    if FileManager.default.fileExists(atPath: destination) && !force {
      throw AttncError(.usage, "'\(destination)' exists; pass --force to overwrite it")
    }
    let start = Date()
    let conversion = try Compiler.convert(
      model, options: try shapes.importOptions(), conversion: try policyOptions.conversion(),
      progress: { FileHandleOutput.standardError($0 + "\n") })
    let plan = conversion.plan
    try withContext(destination) { try PlanFile.write(plan, to: destination) }
    let summary = ModelSummary(conversion.model)
    let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
    print("converted \(model) -> \(destination)")
    print("  policy \(plan.policy), \(plan.instructions.count) kernel calls, \(plan.slots.count) slots, \(plan.constants.count) weights")
    print("  nodes \(summary.opsBefore.reduce(0) { $0 + $1.count }) -> \(summary.opsAfter.reduce(0) { $0 + $1.count }) after canonicalization; plan \(size) bytes")
    print(summary.opChanges(plan))
    if let report = conversion.report {
      print(report.table)
    } else {
      print(VariantHelp.outcomeTable(conversion.attention, requested: policyOptions.variant ?? policyOptions.layers))
    }
    print(String(format: "  took %.2f s", Date().timeIntervalSince(start)))
  }
}

