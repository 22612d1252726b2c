import ArgumentParser
import AttncCost
import AttncKit
import AttncTensor
import Foundation

/// `attnc inspect <model.onnx>`: model facts, symbolic input/output shapes, parameters and the
/// op table before and after canonicalization.
struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a model's (or a plan's) inputs, outputs, parameters and op counts.",
    discussion: """
      Results go to stdout; warnings and errors to stderr. The JSON schema is documented in \
      docs/inspect-json.md. With --seq-len N (or auto) the cost model runs as `convert` would: \
      every matched attention lists each variant's GFLOP, bytes moved, extra memory, predicted \
      time on this machine, error with its source (measured on --calibration inputs, or \
      synthetic), whether the layer and --policy allow it, and the choice, then the totals and \
      the predicted end-to-end speedup over exact. --plot draws predicted time against N. \
      The table also says whether --token-merge can rewrite the model, or why not. \
      Unsupported op types are listed (the graph is still printed) and make the command exit \
      with status 2.

      Examples:
        attnc inspect model.onnx
        attnc inspect model.onnx --seq-len 4096
        attnc inspect model.onnx --seq-len 4096 --policy fastest --format json
        attnc inspect model.onnx --seq-len 1024 --calibration test_data --format csv
        attnc inspect model.onnx --seq-len auto --plot costs.svg
      """)

  @Argument(help: "The ONNX model file, or a plan written by 'attnc convert'.")
  var model: String

  @Option(help: "Output format: table, json or csv (csv: one row per layer and candidate; needs --seq-len).")
  var format: InspectFormat = .table

  @Flag(help: "Also print the canonicalized graph, one node per line (table format only).")
  var graph = false

  @Option(help: ArgumentHelp("Write an SVG of predicted attention time against sequence length (log-log) per distinct layer shape, crossovers marked.", valueName: "file.svg"))
  var plot: String?

  @OptionGroup var policyOptions: PolicyOptions

  @OptionGroup var shapes: ShapeOptions

  func run() throws {
    if PlanSummary.isPlan(model) {
      let summary = try PlanSummary(path: model)
      print(format == .json ? summary.json.rendered() : summary.table)
      return
    }
    let options = try shapes.importOptions()
    let loaded = try ModelLoader.load(model, options: options)
    var summary = ModelSummary(loaded)
    summary.tokenMerging = ModelSummary.tokenMergingCheck(loaded.canonical)
    let progress = { (line: String) in FileHandleOutput.standardError(line + "\n") }
    var conversion = try policyOptions.conversion()
    if policyOptions.seqLen != nil || format == .csv {
      try withContext(model) { try ModelLoader.checkSupported(loaded.imported) }
      if case .fixed(let n)? = conversion.seqLen { summary.seqLen = n }
      if conversion.seqLen == nil { conversion.seqLen = .auto }
      let converted = try Compiler.convert(model, options: options, conversion: conversion, progress: progress)
      summary.policyReport = converted.report
      if let report = converted.report, !report.auto {
        summary.predictedSecondsByKernel = report.predictedSecondsByKernel
      } else if case .fixed(let n)? = conversion.seqLen {
        let profile = try MachineProfile.current(progress: progress)
        summary.predictedSecondsByKernel = PolicyPlanner.exactSecondsByKernel(
          converted.plan, layers: try AttentionLayer.all(in: loaded), seqLen: n, profile: profile)
      }
    }
    if let plot {
      let profile = try MachineProfile.current(progress: progress)
      let panels = CostPlot.panels(try AttentionLayer.all(in: loaded), profile: profile)
      let title = "\(URL(fileURLWithPath: model).deletingLastPathComponent().lastPathComponent)/\(URL(fileURLWithPath: model).lastPathComponent): predicted attention time per layer"
      try AtomicFile.write(Array(CostPlot.svg(panels, title: title).utf8), to: plot)
      progress("wrote \(plot) (\(panels.count) layer shape\(panels.count == 1 ? "" : "s"))")
    }
    switch format {
    case .table:
      print(summary.table)
      if graph { print("\n" + loaded.canonical.listing()) }
    case .json: print(summary.json.rendered())
    case .csv:
      guard let report = summary.policyReport else {
        throw AttncError(.usage, "--format csv lists the cost model's candidates; it needs a policy other than exact")
      }
      print(report.csv)
    }
    try withContext(model) { try ModelLoader.checkSupported(loaded.imported) }
  }
}

/// `inspect --format`.
enum InspectFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json, csv
}
