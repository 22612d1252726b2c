import ArgumentParser
import AttncKit
import AttncTensor

/// `attnc inspect <model.onnx>`: model facts, symbolic input/output shapes, parameters and the
/// op table before and after canonicalization.
struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a model's (or a plan's) inputs, outputs, parameters and op counts.",
    discussion: """
      Results go to stdout; warnings and errors to stderr. The JSON schema is documented in
      docs/inspect-json.md. With --seq-len N every matched attention also lists each variant's
      GFLOP, exponentials, bytes moved and extra memory at N tokens, and whether it may run the
      layer (its mask, causality).

      Examples:
        attnc inspect model.onnx
        attnc inspect model.onnx --seq-len 4096
        attnc inspect model.onnx --seq-len 4096 --format json Unsupported op types are listed (the graph is still printed) and
      make the command exit with status 2.
      """)

  @Argument(help: "The ONNX model file, or a plan written by 'attnc convert'.")
  var model: String

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  @Flag(help: "Also print the canonicalized graph, one node per line (table format only).")
  var graph = false

  @Option(help: "List every attention variant's cost per layer at this many tokens (symbolic lengths bound to it).")
  var seqLen: Int?

  func validate() throws {
    if let seqLen, seqLen < 1 { throw ValidationError("--seq-len must be at least 1") }
  }

  @OptionGroup var shapes: ShapeOptions

  func run() throws {
    if PlanSummary.isPlan(model) {
      let summary = try PlanSummary(path: model)
      print(format == .json ? summary.json.rendered() : summary.table)
      return
    }
    let loaded = try ModelLoader.load(model, options: try shapes.importOptions())
    var summary = ModelSummary(loaded)
    summary.seqLen = seqLen
    switch format {
    case .table:
      print(summary.table)
      if graph { print("\n" + loaded.canonical.listing()) }
    case .json: print(summary.json.rendered())
    }
    try withContext(model) { try ModelLoader.checkSupported(loaded.imported) }
  }
}
