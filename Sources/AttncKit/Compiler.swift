import AttncCodegen
import AttncCost
import AttncIR
import AttncKernels
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// The conversion pipeline: ONNX file → IR → canonical IR → matched attention → policy → plan.
public enum Compiler {
  /// This build's version, recorded in plans (`AttncBuild.version`).
  public static let version = AttncBuild.version

  /// What `plan` did to the attention layers: one entry per matched attention, in graph order.
  public typealias AttentionOutcome = ApplyAttentionVariant.Outcome

  /// Everything a conversion produced.
  public struct Conversion: Sendable {
    public var model: LoadedModel
    public var plan: Plan
    /// The rewritten graph the plan was lowered from (matched attention, the chosen variants,
    /// token merging; before the lowering's fusions): what `convert --to onnx` writes.
    public var graph: Graph
    public var attention: [AttentionOutcome]
    /// The cost model's account (nil for `exact` with nothing forced).
    public var report: PolicyReport?
    /// What token merging did (nil without `--token-merge`).
    public var tokenMerge: MergeTokens.Report?
    /// Under `--token-merge auto`: what the cost model chose.
    public var tokenMergeChoice: TokenMergePlanner.Choice?
    /// The linear layers' precision and why (`--linear-precision`).
    public var linearPrecision: LinearPrecisionPlanner.Decision
  }

  /// Loads, canonicalizes and lowers `path` under `policy` (`exact` by default here); `variant`
  /// (`NAME[:key=value,...]`) is put on every matched attention that can honour it.
  /// - Throws: `AttncError` with the path as context.
  public static func plan(
    _ path: String, options: ImportOptions = ImportOptions(), policy: String = "exact", variant: String? = nil
  ) throws -> (model: LoadedModel, plan: Plan) {
    let result = try compile(path, options: options, policy: policy, variant: variant)
    return (result.model, result.plan)
  }

  /// `plan`, with the per-layer attention outcomes.
  public static func compile(
    _ path: String, options: ImportOptions = ImportOptions(), policy: String = "exact", variant: String? = nil
  ) throws -> (model: LoadedModel, plan: Plan, attention: [AttentionOutcome]) {
    guard let named = AttentionPolicy(rawValue: policy) else {
      throw AttncError(.usage, "unknown policy '\(policy)' (known: \(AttentionPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    var conversion = ConversionOptions(policy: named)
    conversion.variant = variant
    let result = try convert(path, options: options, conversion: conversion)
    return (result.model, result.plan, result.attention)
  }

  /// The whole conversion under `conversion`'s policy; `progress` hears about long steps
  /// (measuring the machine, calibration runs).
  public static func convert(
    _ path: String, options: ImportOptions = ImportOptions(), conversion: ConversionOptions,
    progress: (String) -> Void = { _ in }
  ) throws -> Conversion {
    try FreshDimNumbering.scoped { try convertScoped(path, options: options, conversion: conversion, progress: progress) }
  }

  private static func convertScoped(
    _ path: String, options: ImportOptions, conversion: ConversionOptions, progress: (String) -> Void
  ) throws -> Conversion {
    let model = try ModelLoader.load(path, options: options)
    try withContext(path) { try ModelLoader.checkSupported(model.imported) }
    let digest = try withContext(path) { () throws -> [UInt8] in
      let file = try MappedFile(path: path)
      return SHA256.digest(file.bytes)
    }
    let policy = conversion.policy.rawValue
    return try withContext(path) { () throws -> Conversion in
      var graph = model.canonical
      try AttentionMatching.pipeline.run(&graph)
      let lowerAt = { (graph: Graph, precision: LinearPrecision) throws -> Plan in
        var fused = graph
        try Fusion.run(&fused, linearPrecision: precision)
        return try Lower.plan(fused, sourceSHA256: digest, producer: version, policy: policy)
      }
      let lower = { (graph: Graph) throws -> Plan in try lowerAt(graph, .float32) }
      var merged = graph
      var mergeReport: MergeTokens.Report?
      var choice: TokenMergePlanner.Choice?
      if var schedule = conversion.tokenMerge {
        if schedule.form == .auto {
          progress("choosing token-merge rates (--token-merge auto)")
          let chosen = try TokenMergePlanner.choose(
            graph, options: conversion, lower: lower, loadCalibration: CalibrationInputs.load, progress: progress)
          schedule = TokenMergeSchedule(.list(chosen.rates))
          choice = chosen
        }
        mergeReport = try mergeTokens(schedule, &merged)
      }
      // The linear layers' precision first; bf16's output error comes out of the budget the
      // attention variants are checked against (the errors add at most).
      let linear = try LinearPrecisionPlanner.choose(
        merged, options: conversion, lower: lowerAt, loadCalibration: CalibrationInputs.load, progress: progress)
      var planning = conversion
      if let error = linear.outputError { planning.limits.maxOutputError = max(0, planning.limits.maxOutputError - error) }
      let lowerChosen = { (graph: Graph) throws -> Plan in try lowerAt(graph, linear.precision) }
      let planned = try PolicyPlanner.plan(
        merged, reference: mergeReport == nil ? nil : graph, options: planning, lower: lowerChosen,
        loadCalibration: CalibrationInputs.load, progress: progress)
      var plan = try planned.plan ?? lowerChosen(planned.graph)
      plan.options = conversion.canonical
      plan.sourcePrecision = SourcePrecision.of(model.imported)
      plan.decisions = decisions(planned.outcomes, report: planned.report)
      return Conversion(model: model, plan: plan, graph: planned.graph, attention: planned.outcomes, report: planned.report, tokenMerge: mergeReport,
        tokenMergeChoice: choice, linearPrecision: linear)
    }
  }

  /// Applies a fixed `--token-merge` schedule (`auto` already resolved to rates) to a matched
  /// graph.
  /// - Throws: `.unsupported` with the pass's reason when the graph cannot merge.
  static func mergeTokens(_ schedule: TokenMergeSchedule, _ graph: inout Graph) throws -> MergeTokens.Report {
    do {
      let blocks = try MergeTokens.blocks(graph)
      return try MergeTokens.apply(schedule.rates(blocks: blocks.count) ?? [], to: &graph)
    } catch {
      throw AttncError.unsupported("token merging: \(error.reason)")
    }
  }

  /// One decision per attention layer: what it runs, and with a cost model, every candidate.
  static func decisions(_ outcomes: [AttentionOutcome], report: PolicyReport?) -> [Plan.Decision] {
    outcomes.map { outcome in
      var decision = Plan.Decision(
        layer: outcome.layer, node: outcome.node, variant: outcome.variant.name,
        parameters: outcome.variant.parameters.mapValues { .float($0) })
      decision.dispatch = outcome.dispatch?.description ?? ""
      guard let layer = report?.layers.first(where: { $0.layer == outcome.layer }) else { return decision }
      let chosen = layer.candidates.first { $0.definition.name == outcome.variant.name && $0.setting == layer.chosen }
        ?? layer.candidates.first { $0.definition.name == outcome.variant.name }
      record(chosen, in: &decision)
      decision.candidates = layer.candidates.map { candidate in
        var weighed = Plan.Candidate(
          variant: candidate.variant, parameters: candidate.parameters.values.mapValues { .float($0) },
          allowed: candidate.allowed, reason: candidate.refusal ?? "")
        record(candidate, in: &weighed)
        return weighed
      }
      return decision
    }
  }

  /// The cost model's estimate as the plan records it (`unmeasured` when there is none).
  static func record(_ estimate: AttentionCandidate?, in value: inout some VariantEstimate) {
    value.predictedMilliseconds = (estimate?.predictedSeconds ?? 0) * 1e3
    value.error = estimate?.error
    value.errorSource = estimate?.errorSource ?? "unmeasured"
  }
}
