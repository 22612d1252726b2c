import ArgumentParser
import AttncCost
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc convert <model.onnx> -o <model.attnc>`: compile a model into an execution plan.
struct Convert: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Compile an ONNX model into an attnc plan.",
    discussion: """
      Imports and canonicalizes the model, lowers every node to a kernel and \
      writes one versioned, checksummed plan file (weights zstd-compressed in \
      chunks). The file is written to a temporary name and renamed, so an \
      interrupted run never leaves a partial plan.

      Every softmax attention the matcher finds runs as one fused attention \
      node. --policy chooses each layer's variant from predicted time (a \
      machine profile measured once and cached) and measured error \
      (--calibration DIR, else generated inputs): exact keeps exact attention, \
      fastest takes the least predicted time, balanced (the default) the least \
      time within --max-error and then checks the outputs end to end against \
      --max-output-error, accurate the least error within --memory-budget. \
      --seq-len auto (the default for a symbolic length) stores per-layer \
      tables so each call runs the variant for its actual length. \
      --variant NAME[:key=value,...] puts one variant on every layer that can \
      honour its mask; --layers forces variants on ranges of layers. Variants:
      \(VariantCatalog.names). `attnc variants` describes them; docs/cost-model.md \
      the cost model.

      --token-merge merges tokens between encoder blocks (ToMe): r per block, \
      r:decreasing, a list, or auto (the largest merge within the error budget); \
      outputs keep their shapes; docs/token-merging.md.

      --linear-precision bf16 rounds the linear layers' weights to bfloat16 as \
      they are packed (half their bytes in the plan) and their inputs per call, \
      summing in float32 on AVX-512 BF16 (plain C elsewhere); auto takes bf16 \
      when it is predicted faster and the outputs stay within --max-output-error. \
      `attnc inspect PLAN` shows each linear layer's precision.

      --to onnx writes the rewritten model as standard ONNX instead of a plan, \
      for ONNX Runtime or any other ONNX runtime: the matched attention, each \
      layer's chosen variant as a local function in domain ai.attnc whose body \
      uses only standard ops (random features as initializers, drawn as attnc's \
      plan draws them), attnc's own ops as their standard decomposition, the \
      weights (in <output>.data when the model kept external data), and the \
      policy, source SHA-256 and per-layer decisions in metadata_props beside \
      the model's own. Exact attention is the plain MatMul/Softmax form, or the \
      standard Attention op with --target-opset 23 or later. A per-length table \
      (--seq-len auto) becomes If on the key length. --token-merge writes each \
      block's merge as a local function (ArgMax, TopK, ScatterND with reduction; \
      opset 16 or later) and the unmerges as Gather. Variants without a standard \
      form (scatterbrain, random projections) are refused with the reason, and \
      the policies weigh only settings that have one (no bf16/int8 products or \
      skip-softmax, which only attnc's kernels run). The linear layers stay \
      float32. The default output \
      is <model>.attnc.onnx; `attnc verify OUT.onnx --reference MODEL` checks it.

      Batch conversion: given a folder, a quoted glob or several models, -o names \
      a folder, and every .onnx found (recursively in folders, with its external \
      data) becomes OUTDIR/<relative path>.attnc, keeping the folder structure. \
      A model that fails is reported and the others convert; the exit status is \
      1 if any failed. A plan made by this attnc from the same model with the \
      same options is skipped (unless --force), so an interrupted batch continues \
      where it stopped. --jobs N converts N at once within the machine's memory; \
      --shard i/n converts the i-th of n fixed parts of the inputs (job arrays); \
      --report FILE.json writes the per-model results.

      Examples:
        attnc convert model.onnx -o model.attnc --policy exact
        attnc convert model.onnx --to onnx -o exact.onnx --policy exact --target-opset 23
        attnc convert gpt2.onnx --to onnx -o fast.onnx --policy fastest --seq-len 8192
        attnc convert model.onnx -o fast.attnc --calibration test_data/
        attnc convert gpt2.onnx -o gpt2.attnc --policy fastest --seq-len 8192
        attnc convert model.onnx -o mixed.attnc --layers 0-3:scatterbrain,4-:softmax
        attnc convert vit.onnx -o tome.attnc --policy exact --token-merge 8
        attnc convert bert.onnx -o m.attnc --token-merge auto --calibration data/
        attnc convert model.onnx -o fast.attnc --variant performer:m=128
        attnc convert bert.onnx -o nys.attnc --variant nystrom:m=64 --force
        attnc convert vit.onnx -o vit.attnc --policy exact --linear-precision bf16
        attnc run model.attnc --test-data test_data_set_0
        attnc convert zoo/ -o plans/ --jobs 2 --report report.json
        attnc convert 'zoo/*/model.onnx' -o plans/ --shard 3/8
      """)

  @Argument(help: "The ONNX model file; or, for a batch, folders, globs and model files.")
  var models: [String]

  /// The model of a single conversion.
  var model: String { models[0] }

  @Option(name: .shortAndLong, help: "Where to write the plan (default: <model>.attnc beside it); for a batch, the output folder.")
  var output: String?

  @OptionGroup var policyOptions: PolicyOptions

  @Option(help: ArgumentHelp("What to write: an attnc plan, or the rewritten model as standard ONNX.", valueName: "plan|onnx"))
  var to: OutputFormat = .plan

  @Option(help: ArgumentHelp("With --to onnx: the ai.onnx opset to write (default: the model's); 23 or later writes exact attention as the standard Attention op.", valueName: "N"))
  var targetOpset: Int?

  /// `--to`: the file `convert` writes.
  enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case plan
    case onnx
  }

  @Flag(help: "Overwrite an existing plan (for a batch: reconvert up-to-date plans too).")
  var force = false

  @OptionGroup var shapes: ShapeOptions

  @OptionGroup(title: "Batch conversion") var batch: BatchOptions

  func run() throws {
    if to == .onnx { return try runONNX() }
    if targetOpset != nil { throw AttncError(.usage, "--target-opset applies to --to onnx") }
    if batch.isBatch(models, output: output) {
      return try batch.run(models, output: output) {
        let conversion = try policyOptions.conversion()
        if conversion.policy != .exact && conversion.variant == nil {
          // Measure the machine once, before conversions run side by side.
          _ = try MachineProfile.current(at: conversion.profilePath, progress: { FileHandleOutput.standardError($0 + "\n") })
        }
        return try BatchSettings(conversion: conversion, importOptions: try shapes.importOptions(), force: force)
      }
    }
    let destination = output ?? URL(fileURLWithPath: model).deletingPathExtension().appendingPathExtension("attnc").path
    let start = Date()
    let conversion = try convertModel(try policyOptions.conversion(), to: destination)
    let plan = conversion.plan
    try withContext(destination) { try PlanFile.write(plan, to: destination) }
    let summary = ModelSummary(conversion.model)
    let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
    print("converted \(model) -> \(destination)")
    print("  policy \(plan.policy), \(plan.instructions.count) kernel calls, \(plan.slots.count) slots, \(plan.constants.count) weights")
    print("  nodes \(summary.opsBefore.reduce(0) { $0 + $1.count }) -> \(summary.opsAfter.reduce(0) { $0 + $1.count }) after canonicalization; plan \(size) bytes")
    print(summary.opChanges(plan))
    print("  " + conversion.linearPrecision.summary)
    if let merge = conversion.tokenMerge {
      print("  token merging: r per block \(merge.rates.map(String.init).joined(separator: ",")); keys per layer \(merge.lengths.map(\.description).joined(separator: ", "))")
      if let choice = conversion.tokenMergeChoice { print("  " + choice.summary) }
    }
    if let report = conversion.report {
      print(report.table)
    } else {
      print(VariantHelp.outcomeTable(conversion.attention, requested: policyOptions.variant ?? policyOptions.layers))
    }
    print(String(format: "  took %.2f s", Date().timeIntervalSince(start)))
  }

  /// `--to onnx`: one model, written as standard ONNX.
  func runONNX() throws {
    guard !batch.isBatch(models, output: output) else {
      throw AttncError(.usage, "--to onnx converts one model at a time")
    }
    var options = try policyOptions.conversion()
    if let precision = options.linearPrecision, precision != .f32 {
      throw AttncError(.usage, "--linear-precision \(precision.rawValue) is not written to ONNX (its linear layers stay float32)")
    }
    options.linearPrecision = .f32
    options.limits.standardONNXOnly = true
    let destination = output ?? URL(fileURLWithPath: model).deletingPathExtension().appendingPathExtension("attnc.onnx").path
    let start = Date()
    let conversion = try convertModel(options, to: destination)
    let data = try ONNXOutput.write(conversion, source: model, to: destination, targetOpset: targetOpset)
    let size = (try? FileManager.default.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
    print("converted \(model) -> \(destination) (standard ONNX, \(size) bytes\(data.map { ", weights in \($0)" } ?? ""))")
    if let report = conversion.report {
      print(report.table)
    } else {
      print(VariantHelp.outcomeTable(conversion.attention, requested: policyOptions.variant ?? policyOptions.layers))
    }
    print(String(format: "  took %.2f s", Date().timeIntervalSince(start)))
  }

  /// Converts the one model under `options` on every core (the runs a policy makes while it
  /// measures error), after refusing an existing `destination` without --force.
  func convertModel(_ options: ConversionOptions, to destination: String) throws -> Compiler.Conversion {
    if FileManager.default.fileExists(atPath: destination) && !force {
      throw AttncError(.usage, "'\(destination)' exists; pass --force to overwrite it")
    }
    ProcessSetup.configureThreads(ProcessSetup.cores)
    return try Compiler.convert(
      model, options: try shapes.importOptions(), conversion: options, progress: { FileHandleOutput.standardError($0 + "\n") })
  }
}
