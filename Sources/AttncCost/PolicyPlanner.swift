import AttncIR
import AttncKernels
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// What shapes a conversion besides the model: the policy and its limits, forced variants, the
/// sequence length to plan for, the calibration inputs.
public struct ConversionOptions: Sendable {
  /// `--seq-len`: plan for one length, or a per-layer table by length.
  public enum SequenceLength: Sendable, Equatable, CustomStringConvertible {
    case auto
    case fixed(Int)
    public var description: String {
      switch self {
      case .auto: "auto"
      case .fixed(let n): String(n)
      }
    }
  }

  public var policy: AttentionPolicy = .balanced
  /// `--variant`: put on every layer that can honour it (overrides the policy).
  public var variant: String?
  /// `--layers`: per-range forced variants (applied after the policy's choice).
  public var layers: LayerOverrides?
  /// nil: `auto` when the model's sequence length is symbolic, else its fixed length.
  public var seqLen: SequenceLength?
  public var limits = AttentionPolicy.Limits()
  /// `--calibration DIR`; nil = synthetic inputs.
  public var calibration: String?
  /// The sequence length of synthetic calibration inputs when planning `auto`.
  public var syntheticLength = 1024
  public var profilePath = MachineProfile.defaultPath
  /// `--token-merge`: merge tokens between blocks (nil = none).
  public var tokenMerge: TokenMergeSchedule?
  /// `--linear-precision`: the linear layers' operands (nil = the policy's default,
  /// `LinearPrecisionChoice.default(for:)`).
  public var linearPrecision: LinearPrecisionChoice?
  /// `--search-time`: the most seconds `--token-merge auto` spends measuring schedules.
  public var searchSeconds: Double = 100
  /// `--outputs`: the outputs the output-error budget applies to (nil: every floating-point
  /// output). A pooled or class-token output loses little to token merging; per-token outputs
  /// lose with every merge.
  public var judgedOutputs: [String]?

  public init(policy: AttentionPolicy = .balanced) { self.policy = policy }

  /// Whether the cost model runs at all (it does not for `exact` with nothing forced).
  /// `--variant` forces every layer, so the cost model has nothing to choose.
  var needsCostModel: Bool { policy != .exact && variant == nil }

  /// Canonical text of everything above that changes the plan, recorded in it (batch
  /// conversion skips a plan whose options match).
  public var canonical: String {
    var parts = ["policy=\(policy.rawValue)"]
    if let variant { parts.append("variant=\(variant)") }
    if let layers { parts.append("layers=" + layers.entries.map { "\($0.first)-\($0.last.map(String.init) ?? ""):\($0.variant)" }.joined(separator: ",")) }
    if let tokenMerge { parts.append("token-merge=\(tokenMerge)") }
    let precision = linearPrecision ?? .default(for: policy)
    if precision != .f32 { parts.append("linear-precision=\(precision.rawValue)") }
    if needsCostModel {
      parts.append("seq-len=\(seqLen?.description ?? "default")")
      parts.append("max-error=\(limits.maxError)")
      parts.append("max-output-error=\(limits.maxOutputError)")
      if let budget = limits.memoryBudget { parts.append("memory-budget=\(Int(budget))") }
      if let calibration { parts.append("calibration=\(calibration)") }
      if let judgedOutputs { parts.append("outputs=\(judgedOutputs.joined(separator: ","))") }
    }
    return parts.joined(separator: " ")
  }
}

/// What the cost model decided for one attention layer.
public struct LayerDecision: Sendable {
  public var layer: Int
  public var node: String
  /// Every setting weighed, at the planned length, with what ruled each out.
  public var candidates: [AttentionCandidate]
  /// The setting the layer runs at the planned length (`softmax` when refused or reverted).
  public var chosen: String
  /// Why: "least predicted time within --max-error", "--layers", "reverted: …".
  public var reason: String
  /// With `--seq-len auto` on a symbolic length: the variant by key-length range.
  public var dispatch: AttentionDispatch?
  /// The layer's key length at the planned length (less than it after token merging).
  public var tokens: Int = 0

  public var chosenCandidate: AttentionCandidate? { candidates.first { $0.setting == chosen } }
  public var exactCandidate: AttentionCandidate? { candidates.first { $0.isExact } }
}

/// The cost model's account of a conversion, printed by `convert` and stored in the plan.
public struct PolicyReport: Sendable {
  public var policy: AttentionPolicy
  /// The length predictions and choices are for (the calibration length under `auto`).
  public var seqLen: Int
  public var auto: Bool
  public var layers: [LayerDecision]
  /// Where errors came from ("2 samples in DIR", "synthetic inputs (seq=1024)").
  public var calibration: String
  /// The chosen plan's largest output error against the exact plan on the calibration inputs,
  /// when checked (`balanced`).
  public var outputError: Double?
  /// Layers put back to exact by the end-to-end check, worst first.
  public var reverted: [Int]
  /// With token merging under `balanced`: the merged exact plan's output error against the
  /// unmerged model (then `outputError` is the total, merging and variants).
  public var mergeError: Double?
  /// With token merging: the predicted seconds of the unmerged exact plan at `seqLen` (the
  /// baseline `speedup` is against).
  public var unmergedSeconds: Double?
  /// Predicted seconds of everything but attention (projections, MLP, norms) at `seqLen`, per
  /// kernel ("PackedMatMul", "LayerNormalization"), each call by its own cost (`PlanCost`).
  public var otherSecondsByKernel: [String: Double]
  /// Predicted seconds of everything but attention at `seqLen`.
  public var otherSeconds: Double { otherSecondsByKernel.values.reduce(0, +) }

  public var exactAttentionSeconds: Double { layers.reduce(0) { $0 + ($1.exactCandidate?.predictedSeconds ?? 0) } }
  public var chosenAttentionSeconds: Double { layers.reduce(0) { $0 + ($1.chosenCandidate?.predictedSeconds ?? 0) } }
  /// Predicted end-to-end speedup over the exact plan (the unmerged one under token merging).
  public var speedup: Double {
    let chosen = otherSeconds + chosenAttentionSeconds
    return chosen > 0 ? (unmergedSeconds ?? (otherSeconds + exactAttentionSeconds)) / chosen : 1
  }
}

/// Runs the cost model and the policy over a matched graph.
public enum PolicyPlanner {
  /// The result: the graph with variants applied, what happened per layer and the report.
  public struct Result: Sendable {
    public var graph: Graph
    public var outcomes: [ApplyAttentionVariant.Outcome]
    public var report: PolicyReport?
    /// `graph` already lowered, when the end-to-end check lowered it (else nil).
    public var plan: Plan?
  }

  /// - Parameters:
  ///   - graph: the canonical graph with attentions matched (`FusedAttention`), tokens merged
  ///     when asked.
  ///   - reference: the graph whose outputs the end-to-end check compares with, when it is not
  ///     `graph` (the unmerged model under token merging).
  ///   - lower: lowers a graph (fusion + codegen) to a plan.
  ///   - loadCalibration: reads `options.calibration` when it names a folder.
  /// - Throws: bad options (`.usage`), calibration inputs that do not fit, a failed run.
  public static func plan(
    _ graph: Graph, reference: Graph? = nil, options: ConversionOptions, lower: (Graph) throws -> Plan,
    loadCalibration: CalibrationInputs.Loader, progress: (String) -> Void
  ) throws -> Result {
    let layers = AttentionLayer.all(in: graph)
    // Forced variants only: no cost model.
    guard options.needsCostModel, !layers.isEmpty else {
      var result = graph
      var assignments: [Int: ApplyAttentionVariant.Assignment] = [:]
      for layer in layers {
        if let text = options.layers?.variant(for: layer.layer) ?? options.variant { assignments[layer.layer] = .init(variant: text) }
      }
      let outcomes = try ApplyAttentionVariant.apply(assignments, to: &result)
      return Result(graph: result, outcomes: outcomes, report: nil, plan: nil)
    }

    let exactPlan = try lower(graph)
    let symbolic = layers.contains { $0.isSymbolic }
    let auto: Bool
    let plannedLength: Int?
    switch options.seqLen {
    case .fixed(let n)?: (auto, plannedLength) = (false, n)
    case .auto?: (auto, plannedLength) = (symbolic, nil)
    case nil: (auto, plannedLength) = (symbolic, nil)
    }

    // Calibration inputs: the user's, or synthetic at the planned length (under `auto`, the
    // synthetic length halves until the model accepts it: position tables bound it).
    let profile = try MachineProfile.current(at: options.profilePath, progress: progress)
    let (inputs, errors) = try CalibrationInputs.prepare(
      for: exactPlan, folder: options.calibration, length: plannedLength ?? options.syntheticLength, load: loadCalibration,
      progress: progress
    ) { inputs in
      progress("measuring each variant's attention error on \(inputs.description)")
      return try AttentionErrors.measure(exactPlan: exactPlan, layers: layers, inputs: inputs, progress: progress)
    }
    let calibrationLength = try observedLength(exactPlan, inputs.samples[0])
    let seqLen = plannedLength ?? calibrationLength ?? options.syntheticLength

    // Per layer: candidates at the planned length, the policy's choice, forced variants.
    var decisions: [LayerDecision] = []
    var assignments: [Int: ApplyAttentionVariant.Assignment] = [:]
    for layer in layers {
      var candidates = AttentionCandidate.all(
        for: layer, seqLen: seqLen, profile: profile, errors: errors.estimates(layer: layer.layer),
        headErrors: errors.headEstimates(layer: layer.layer), densities: errors.densities(layer: layer.layer))
      let choice = options.policy.choose(&candidates, limits: options.limits)
      var chosen = candidates[choice].setting
      var reason = reasonText(options.policy, chosen: candidates[choice])
      var dispatch: AttentionDispatch?
      if let forced = options.layers?.variant(for: layer.layer) ?? options.variant {
        chosen = forced
        reason = options.layers?.variant(for: layer.layer) != nil ? "--layers" : "--variant"
      } else if auto && layer.isSymbolic {
        dispatch = try dispatchTable(
          layer, profile: profile, estimates: errors.estimates(layer: layer.layer), densities: errors.densities(layer: layer.layer),
          policy: options.policy, limits: options.limits)
        if let table = dispatch, table.entries.count > 1 {
          reason += "; by length: \(table)"
        } else {
          dispatch = nil
        }
      }
      assignments[layer.layer] = .init(variant: chosen, dispatch: dispatch)
      if layer.cacheLength != nil && (chosen != "softmax" || dispatch != nil) {
        reason += "; decoding steps (up to \(TiledAttention.decodeRows) new tokens on the KV cache) run exact"
      }
      decisions.append(LayerDecision(
        layer: layer.layer, node: layer.node, candidates: candidates, chosen: chosen, reason: reason, dispatch: dispatch,
        tokens: layer.length(seqLen: seqLen)))
    }

    var result = graph
    var outcomes = try ApplyAttentionVariant.apply(assignments, to: &result)
    var report = PolicyReport(
      policy: options.policy, seqLen: seqLen, auto: auto, layers: decisions, calibration: inputs.description, outputError: nil,
      reverted: [],
      otherSecondsByKernel: PlanCost.secondsByKernel(
        exactPlan, bindings: exactPlan.symbolBindings(batch: 1, sequence: seqLen), profile: profile))
    let referencePlan = try reference.map(lower)
    if let reference, let referencePlan {
      report.unmergedSeconds = exactSeconds(referencePlan, reference, seqLen: seqLen, profile: profile)
    }

    // Balanced: check the outputs end to end; put the worst approximated layer back to exact
    // (a layer in int8 first down to bfloat16, where that was allowed) until they are within
    // --max-output-error.
    var checked: Plan?
    if options.policy == .balanced {
      // With token merging, the variants answer for what they add to the merged exact plan,
      // within what merging left of the budget (by the triangle inequality the total stays
      // within it); the report gives the total against the unmerged model.
      var budget = options.limits.maxOutputError
      var original: [[HostTensor]]?
      if let referencePlan {
        let interpreter = try Interpreter(plan: referencePlan)
        let outputs = try inputs.samples.map { try interpreter.run($0) }
        let mergeError = try outputError(exactPlan, inputs: inputs, reference: outputs, judged: options.judgedOutputs)
        report.mergeError = mergeError
        budget = max(0, budget - mergeError)
        original = outputs
      }
      while true {
        let plan = try lower(result)
        checked = plan
        let error = try outputError(plan, inputs: inputs, reference: errors.exactOutputs, judged: options.judgedOutputs)
        report.outputError = error
        guard error > budget else { break }
        let approximated = decisions.indices.filter { decisions[$0].chosen != "softmax" || decisions[$0].dispatch != nil }
        guard let worst = approximated.max(by: { worstError(decisions[$0]) < worstError(decisions[$1]) }) else { break }
        let limit = report.mergeError == nil
          ? "--max-output-error \(options.limits.maxOutputError)"
          : "\(errorText(budget)) (--max-output-error \(options.limits.maxOutputError) less token merging's \(errorText(report.mergeError!)))"
        if let lower = steppedDown(decisions[worst]) {
          progress("output error \(errorText(error)) > \(limit): layer \(decisions[worst].layer) down to \(lower)")
          decisions[worst].reason = "stepped down to \(lower): output error \(errorText(error)) > \(limit) with \(decisions[worst].chosen)"
          decisions[worst].chosen = lower
        } else {
          progress("output error \(errorText(error)) > \(limit): layer \(decisions[worst].layer) back to exact")
          decisions[worst].reason = "reverted to exact: output error \(errorText(error)) > \(limit) with \(decisions[worst].chosen)"
          decisions[worst].chosen = "softmax"
          report.reverted.append(decisions[worst].layer)
        }
        decisions[worst].dispatch = nil
        assignments[decisions[worst].layer] = .init(variant: decisions[worst].chosen)
        result = graph
        outcomes = try ApplyAttentionVariant.apply(assignments, to: &result)
      }
      if let original, let checked { report.outputError = try outputError(checked, inputs: inputs, reference: original, judged: options.judgedOutputs) }
    }
    report.layers = decisions
    // The last plan checked is the final graph's unless a revert followed it (then the loop ran
    // again), so it is the plan to keep.
    return Result(graph: result, outcomes: outcomes, report: report, plan: checked)
  }

  /// `0.0123`, or `4.2e-05` below 0.001 (so a small error never reads as 0).
  static func errorText(_ error: Double) -> String {
    error > 0 && error < 0.001 ? String(format: "%.1e", error) : String(format: "%.4f", error)
  }

  /// The bfloat16 setting a layer that runs int8 (or int8pv) attention steps down to before exact, when the
  /// policy allowed it on the layer (nil otherwise).
  static func steppedDown(_ decision: LayerDecision) -> String? {
    guard decision.dispatch == nil, let chosen = decision.chosenCandidate, chosen.variant == AttentionVariant.softmax.name,
      TiledAttention.Precision(chosen.parameters).quantizesScores
    else { return nil }
    return decision.candidates.first { $0.allowed && $0.variant == chosen.variant && TiledAttention.Precision($0.parameters) == .bfloat16 }?.setting
  }

  /// The worst error among what a layer may run (its choice and its dispatch entries).
  static func worstError(_ decision: LayerDecision) -> Double {
    var settings = [decision.chosen]
    if let dispatch = decision.dispatch { settings += dispatch.entries.map(\.variant) }
    return settings.compactMap { setting in decision.candidates.first { $0.setting == setting }?.error }.max() ?? 0
  }

  static func reasonText(_ policy: AttentionPolicy, chosen: AttentionCandidate) -> String {
    switch policy {
    case .exact: return "exact policy"
    case .fastest: return "least predicted time"
    case .balanced:
      let density = chosen.density.map { $0 < 1 ? String(format: ", density %.2f on the calibration inputs", $0) : "" } ?? ""
      return chosen.isExact ? "least predicted time within --max-error (exact)" : "least predicted time within --max-error" + density
    case .accurate: return "least error within --memory-budget"
    }
  }

  /// The key length the first attention sees when `plan` runs `inputs` (nil without attention).
  static func observedLength(_ plan: Plan, _ inputs: [HostTensor]) throws -> Int? {
    let interpreter = try Interpreter(plan: plan)
    let bindings = try interpreter.bind(inputs)
    for instruction in plan.instructions where instruction.kernel == "FusedAttention" {
      let appends = (instruction.call as? FusedAttentionCall)?.appendsCache == true
      guard let slot = appends ? instruction.outputs.dropFirst().first : instruction.inputs.dropFirst().first ?? nil else { continue }
      let dims = plan.slots[slot].dims
      if dims.count == 4, let value = dims[2].evaluate(bindings) { return value }
    }
    return nil
  }

  /// The largest relative output error of `plan` against `reference` over the samples, over the
  /// floating-point outputs named in `judged` (`--outputs`; nil: all of them).
  /// - Throws: `.usage` when `judged` names an output the plan does not have.
  static func outputError(_ plan: Plan, inputs: CalibrationInputs, reference: [[HostTensor]], judged: [String]? = nil) throws -> Double {
    let names = plan.outputs.map { plan.slots[$0].name }
    if let judged, let unknown = judged.first(where: { !names.contains($0) }) {
      throw AttncError(.usage, "--outputs names '\(unknown)', which is not an output of the model (its outputs: \(names.joined(separator: ", ")))")
    }
    let interpreter = try Interpreter(plan: plan)
    var worst = 0.0
    for (sample, expected) in zip(inputs.samples, reference) {
      let actual = try interpreter.run(sample)
      for (k, (a, b)) in zip(actual, expected).enumerated() where a.dtype.isFloatingPoint && judged.map({ $0.contains(names[k]) }) ?? true {
        worst = max(worst, AttentionQuality.relativeError(a.floats()[...], b.floats()[...]))
      }
    }
    return worst
  }

  /// The per-length table for one layer: the policy's choice at lengths 16…1M keys, with each
  /// change located to the token by bisection between the powers of two around it.
  static func dispatchTable(
    _ layer: AttentionLayer, profile: MachineProfile, estimates: [String: (error: Double, source: String)],
    densities: AttentionCandidate.Densities = .init(), policy: AttentionPolicy, limits: AttentionPolicy.Limits
  ) throws -> AttentionDispatch {
    func choice(_ n: Int) -> String {
      var candidates = AttentionCandidate.all(for: layer, seqLen: n, profile: profile, errors: estimates, densities: densities)
      return candidates[policy.choose(&candidates, limits: limits)].setting
    }
    var entries = [AttentionDispatch.Entry(minimumKeys: 1, variant: choice(16))]
    var low = 16
    while low < 1 << 20 {
      let high = low * 2
      let next = choice(high)
      if next != choice(low) {
        // The first length in (low, high] that picks `next`.
        var (a, b) = (low, high)
        while b - a > 1 {
          let mid = (a + b) / 2
          if choice(mid) == next { b = mid } else { a = mid }
        }
        entries.append(.init(minimumKeys: b, variant: next))
      }
      low = high
    }
    return try AttentionDispatch(entries)
  }

  /// Predicted seconds of `plan` (lowered from `graph`) with exact attention, batch 1 at `seqLen`
  /// tokens: each attention at its own length, and everything else.
  static func exactSeconds(_ plan: Plan, _ graph: Graph, seqLen: Int, profile: MachineProfile) -> Double {
    exactSecondsByKernel(plan, layers: AttentionLayer.all(in: graph), seqLen: seqLen, profile: profile).values.reduce(0, +)
  }

  /// Predicted seconds per kernel of `plan` with exact attention, batch 1 at `seqLen` tokens:
  /// every call by its own cost (`PlanCost`), the attention `layers` (`FusedAttention`) by
  /// the exact candidate's prediction, each at its own length.
  public static func exactSecondsByKernel(
    _ plan: Plan, layers: [AttentionLayer], seqLen: Int, profile: MachineProfile
  ) -> [String: Double] {
    var result = PlanCost.secondsByKernel(
      plan, bindings: plan.symbolBindings(batch: 1, sequence: seqLen), profile: profile)
    for layer in layers {
      let exact = AttentionCandidate.all(for: layer, seqLen: seqLen, profile: profile).first { $0.isExact }
      result["FusedAttention", default: 0] += exact?.predictedSeconds ?? 0
    }
    return result
  }

  /// Predicted seconds of every instruction but attention at `bindings`, each by its call's own
  /// cost (`PlanCost`): matrix products (packed or not) at the profile's GEMM rate, everything
  /// else at its memory traffic, a call's overhead each.
  public static func otherSeconds(_ plan: Plan, bindings: [String: Int], profile: MachineProfile) -> Double {
    PlanCost.secondsByKernel(plan, bindings: bindings, profile: profile).values.reduce(0, +)
  }

}
