import AttncCodegen
import AttncIR
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// The conversion pipeline: ONNX file → IR → canonical IR → plan.
public enum Compiler {
  /// This build's version, recorded in plans.
  public static let version = "attnc 0.1.0"

  /// What `plan` did to the attention layers: one entry per matched attention, in graph order.
  public typealias AttentionOutcome = ApplyAttentionVariant.Outcome

  /// Loads, canonicalizes and lowers `path` under `policy`; `variant`
  /// (`NAME[:key=value,...]`) is put on every matched attention that can honour it, and each
  /// attention layer's choice is recorded in the plan's decisions.
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
    let model = try ModelLoader.load(path, options: options)
    try withContext(path) { try ModelLoader.checkSupported(model.imported) }
    let digest = try withContext(path) { () throws -> [UInt8] in
      let file = try MappedFile(path: path)
      return SHA256.digest(file.bytes)
    }
    var outcomes: [AttentionOutcome] = []
    let plan = try withContext(path) { () throws -> Plan in
      var graph = model.canonical
      try AttentionMatching.pipeline.run(&graph)
      outcomes = try ApplyAttentionVariant.apply(variant ?? "softmax", to: &graph)
      try Fusion.pipeline.run(&graph)
      var plan = try Lower.plan(graph, sourceSHA256: digest, producer: version, policy: policy)
      plan.decisions = outcomes.map { outcome in
        Plan.Decision(
          layer: outcome.layer, node: outcome.node, variant: outcome.variant.name,
          parameters: outcome.variant.parameters.mapValues { .float($0) }, predictedMilliseconds: 0, error: nil,
          errorSource: "unmeasured")
      }
      return plan
    }
    return (model, plan, outcomes)
  }
}
