import AttncIR
import AttncKernels
import AttncPasses
import AttncTensor

/// One matched attention as the cost model sees it: its spec and symbolic lengths.
public struct AttentionLayer: Sendable {
  public var layer: Int
  public var node: String
  public var spec: AttentionSpec
  public var queries: Dim
  public var keys: Dim
  /// The KV cache's length when the layer is a step on one (`MatchAttention.Match.cacheLength`).
  public var cacheLength: Dim? = nil

  /// The `FusedAttention` nodes of a matched graph, in graph order (the layer numbering every
  /// pass and plan decision uses), with their query and key lengths from the operands' types.
  public static func all(in graph: Graph) -> [AttentionLayer] {
    var layers: [AttentionLayer] = []
    for node in graph.nodes {
      guard let op = node.op as? FusedAttention else { continue }
      func length(_ position: Int) -> Dim {
        guard position < node.inputs.count, let id = node.inputs[position], let dims = graph.values[id].type?.dims, dims.count == 4
        else { return .symbol("seq") }
        return dims[2]
      }
      layers.append(AttentionLayer(
        layer: layers.count, node: node.name, spec: op.spec, queries: length(0), keys: length(1),
        cacheLength: FuseCacheAppend.cacheLength(of: node, in: graph)))
    }
    let tokens = layers.first?.queries
    return layers.map { var layer = $0; layer.tokens = tokens; return layer }
  }

  /// Whether the sequence length is symbolic (then `--seq-len auto` plans a dispatch table).
  public var isSymbolic: Bool { keys.value == nil || queries.value == nil }

  /// The model's token count as a dim: the first layer's query length (`all(in:)` sets it). A
  /// sequence length binds its symbols to the values that make it that many tokens (the image
  /// size of a ViT), so every layer is priced at the same input.
  public var tokens: Dim? = nil

  /// The per-head shape at `seqLen` tokens: the symbols of the query and key lengths bound so the
  /// model has `seqLen` tokens (`tokens`; without it every symbol is `seqLen`), except a KV
  /// cache's own length, bound to 0 (a prompt on an empty cache, as `Plan.symbolBindings` binds
  /// it); a fixed length keeps its value.
  public func shape(seqLen: Int) -> AttentionShape {
    let cacheOnly = (cacheLength?.symbols ?? []).subtracting(queries.symbols)
    let zeros = Dictionary(uniqueKeysWithValues: cacheOnly.map { ($0, 0) })
    let solved = tokens?.bindings(reaching: seqLen, fixed: zeros) ?? [:]
    func length(_ dim: Dim) -> Int {
      if let value = dim.value { return value }
      let bindings = zeros.merging(dim.symbols.map { ($0, solved[$0] ?? seqLen) }) { old, _ in old }
      return dim.evaluate(bindings) ?? seqLen
    }
    return AttentionShape(
      queries: length(queries), keys: length(keys), depth: spec.headDim, valueDepth: spec.valueDim, causal: spec.causal)
  }

  /// The sequence length the layer has when it is fixed, else `seqLen`.
  public func length(seqLen: Int) -> Int { shape(seqLen: seqLen).keys }
}

extension AttentionLayer {
  /// The layer the matcher found (its spec and query and key lengths).
  public init(_ match: MatchAttention.Match) {
    self.init(
      layer: match.layer, node: match.node, spec: match.spec, queries: match.queries, keys: match.keys, cacheLength: match.cacheLength)
  }
}

/// One variant setting weighed for one layer at one sequence length: its cost from the variant's
/// formula (next to its kernel), predicted time from the machine profile, error estimate, and
/// whether the layer (and the policy) allow it.
public struct AttentionCandidate: Sendable {
  /// The setting as `--variant` takes it: `performer`, `fastmax:p=1`.
  public var setting: String
  public var definition: AttentionVariantDefinition
  public var parameters: VariantParameters
  /// For batch 1, all query heads.
  public var cost: AttentionCost
  /// Predicted seconds for batch 1, nil without a machine profile.
  public var predictedSeconds: Double?
  /// Relative attention-output error `‖Y − Y_exact‖_F / ‖Y_exact‖_F`, nil when not estimated.
  public var error: Double?
  /// `exact`, `measured` (calibration inputs), `synthetic` (generated inputs) or `unmeasured`.
  public var errorSource: String
  /// Why the layer cannot run it ("nystrom has no causal form"), or why the policy rules it out
  /// ("error 0.31 > --max-error 0.05"); nil when allowed.
  public var refusal: String?
  /// Each query head's error, where measured (calibration inputs).
  public var headErrors: [Double]? = nil
  /// Sparse settings: the share of visible query-key pairs attended on the calibration inputs
  /// (the cost formula's `AttentionShape.density`), over all heads and per head; nil where not
  /// measured (then priced dense).
  public var density: Double? = nil
  public var headDensities: [Double]? = nil

  public var variant: String { definition.name }
  public var allowed: Bool { refusal == nil }
  /// Exact attention in float32 (`softmax`; not `softmax:prec=bf16`).
  public var isExact: Bool { definition.isExact(parameters) }

  /// The settings every policy weighs: each variant at its defaults, Fastmax at p = 1 too (its
  /// cost is d times lower than the default p = 2), and exact attention in bfloat16, with Q·Kᵀ
  /// in int8, and with both products in 8 bits.
  public static let settings = AttentionVariants.all.map(\.name).filter { $0 != "blocksparse" }
    + ["fastmax:p=1", "softmax:prec=bf16", "softmax:prec=int8", "softmax:prec=int8pv"]

  /// The sparse settings every policy weighs besides `settings`: skip-softmax at three
  /// thresholds and block-sparse attention at three shares. They run the exact kernel on fewer
  /// tiles, so the machine profile times none of them (`timedSetting`): each is priced at the
  /// density measured on the calibration inputs, and dense (never cheaper than exact) without.
  public static let sparseSettings = [
    "softmax:skip=6", "softmax:skip=9", "softmax:skip=12", "blocksparse:tau=0.9", "blocksparse", "blocksparse:tau=0.99",
  ]

  /// Every setting a policy weighs (and calibration measures).
  public static var weighed: [String] { settings + sparseSettings }

  /// The kernels that price the sparse settings (`timedSetting`), timed by the machine
  /// calibration beside `settings`: the tiled kernel stepping 64 keys at a time (skip-softmax;
  /// λ = 1000 never skips on the calibration's inputs) and on blocks of 64 with every block kept
  /// (block-sparse), in both precisions.
  public static let sparseKernels = [
    "softmax:skip=1000", "softmax:prec=bf16,skip=1000", "blocksparse:block=64,tau=1", "blocksparse:block=64,prec=bf16,tau=1",
  ]

  /// Every setting for `layer` at `seqLen` tokens; `errors` by setting (with their source).
  public static func all(
    for layer: AttentionLayer, seqLen: Int, profile: MachineProfile? = nil,
    errors: [String: (error: Double, source: String)] = [:], headErrors: [String: [Double]] = [:],
    densities: Densities = Densities()
  ) -> [AttentionCandidate] {
    let spec = layer.spec
    return weighed.compactMap { setting in
      guard let (definition, parameters) = try? AttentionVariants.parse(setting) else { return nil }
      var shape = layer.shape(seqLen: seqLen)
      shape.density = densities.layer[setting] ?? 1
      let cost = definition.cost(shape, parameters).times(spec.qHeads)
      let estimate = definition.isExact(parameters) ? (0, "exact") : errors[setting]
      let predicted = profile.map { profile in
        sparseSettings.contains(setting)
          ? sparseSeconds(definition, parameters, shape: shape, heads: spec.qHeads, profile: profile)
          : profile.predictSeconds(definition, parameters, shape: shape, heads: spec.qHeads, setting: definition.timedSetting(parameters))
      }
      return AttentionCandidate(
        setting: setting, definition: definition, parameters: parameters, cost: cost,
        predictedSeconds: predicted,
        error: estimate?.error, errorSource: estimate?.source ?? "unmeasured",
        refusal: definition.refusal(
          causal: spec.causal, mask: spec.mask.rawValue, softcap: spec.softcap, parameters: parameters),
        headErrors: headErrors[setting], density: densities.layer[setting], headDensities: densities.heads[setting])
    }
  }

  /// A sparse setting's predicted seconds: exact attention's at the same precision, times the
  /// share its own kernel's fit predicts at the measured density against every tile kept. Its
  /// kernel is the exact one on fewer tiles, plus a selection: at density 1 it is never
  /// predicted faster than exact attention, which the fits of two kernels timed apart would
  /// not ensure (their per-call and per-head overheads are fitted apart: bert_mini at 128 tokens
  /// was predicted 25% faster under block-sparse with every block kept, and its attention took
  /// 2.2 ms against exact attention's 1.5 ms on one thread).
  static func sparseSeconds(
    _ definition: AttentionVariantDefinition, _ parameters: VariantParameters, shape: AttentionShape, heads: Int,
    profile: MachineProfile
  ) -> Double {
    let timed = definition.timedSetting(parameters)
    var dense = shape
    dense.density = 1
    let sparse = profile.predictSeconds(definition, parameters, shape: shape, heads: heads, setting: timed)
    let full = profile.predictSeconds(definition, parameters, shape: dense, heads: heads, setting: timed)
    let precision = TiledAttention.Precision(parameters)
    let exactSetting = precision == .float32 ? "softmax" : "softmax:prec=\(precision.name)"
    guard full > 0, let (softmax, values) = try? AttentionVariants.parse(exactSetting) else { return sparse }
    return profile.predictSeconds(softmax, values, shape: dense, heads: heads, setting: exactSetting) * min(1, sparse / full)
  }

  /// The measured densities of one layer's sparse settings, by setting: over all heads, and per
  /// query head.
  public struct Densities: Sendable {
    public var layer: [String: Double] = [:]
    public var heads: [String: [Double]] = [:]
    public init(layer: [String: Double] = [:], heads: [String: [Double]] = [:]) { (self.layer, self.heads) = (layer, heads) }
  }

  /// Per-head choice: this setting (bfloat16, int8, skip-softmax, block-sparse) on only the heads
  /// whose own error is within `budget`, the other heads exact (the variant's head-set
  /// parameter: `softmax:f32heads=1+3,prec=bf16`, `blocksparse:denseheads=0+2`) or, for int8
  /// given the bfloat16 candidate as `fallback`, bfloat16 where that head's bfloat16 error is
  /// within `budget` (`softmax:bf16heads=1,f32heads=3,prec=int8`). Its error is the root mean
  /// square of the heads' errors over all heads (heads of equal norm, exact heads 0), its
  /// predicted time exact attention's plus each setting's saving times its share: the kept heads'
  /// share of the heads, or for a sparse setting with per-head densities `ρ_h` their share of
  /// `Σ (1 − ρ_h)`; the fallback's heads their share of the heads. Nil when the setting has no
  /// per-head form or per-head errors, or when no head or every head is within `budget`.
  public func keepingHeads(within budget: Double, exactSeconds: Double?, fallback: AttentionCandidate? = nil) -> AttentionCandidate? {
    guard let headSet = definition.parameters.first(where: \.isHeadSet), !isExact,
      let heads = headErrors, (1...52).contains(heads.count)
    else { return nil }
    let kept = heads.indices.filter { heads[$0] <= budget }
    guard !kept.isEmpty, kept.count < heads.count else { return nil }
    // Heads over the budget here run the fallback's precision where its own error is within it.
    let lower = fallback?.headErrors.flatMap { errors in
      errors.count == heads.count && TiledAttention.Precision(parameters).quantizesScores && definition.parameters.contains { $0.name == "bf16heads" }
        ? errors : nil
    }
    let stepped = heads.indices.filter { heads[$0] > budget && (lower?[$0] ?? .infinity) <= budget }
    func mask(_ set: [Int]) -> Double { Double(set.reduce(UInt64(0)) { $0 | 1 << UInt64($1) }) }
    var values = parameters.values
    values[headSet.name] = mask(heads.indices.filter { heads[$0] > budget && !stepped.contains($0) })
    if !stepped.isEmpty { values["bf16heads"] = mask(stepped) }
    guard let resolved = try? definition.resolve(values) else { return nil }
    let chosen = heads.indices.map { kept.contains($0) ? heads[$0] : stepped.contains($0) ? lower?[$0] ?? 0 : 0 }
    var candidate = self
    candidate.parameters = resolved
    candidate.setting = definition.text(resolved.values)
    candidate.error = (chosen.reduce(0) { $0 + $1 * $1 } / Double(heads.count)).squareRoot()
    candidate.headErrors = chosen
    var share = Double(kept.count) / Double(heads.count)
    if let densities = headDensities, densities.count == heads.count {
      let savings = densities.map { 1 - $0 }, total = savings.reduce(0, +)
      if total > 0 { share = kept.reduce(0) { $0 + savings[$1] } / total }
      candidate.headDensities = heads.indices.map { heads[$0] <= budget ? densities[$0] : 1 }
      candidate.density = candidate.headDensities.map { $0.reduce(0, +) / Double(heads.count) }
    }
    if let seconds = predictedSeconds, let exactSeconds {
      let lowerShare = Double(stepped.count) / Double(heads.count)
      let lowerSeconds = fallback?.predictedSeconds ?? exactSeconds
      candidate.predictedSeconds = exactSeconds + (seconds - exactSeconds) * share + (lowerSeconds - exactSeconds) * lowerShare
    }
    return candidate
  }

  /// Backwards-compatible form for a matcher result.
  public static func all(for match: MatchAttention.Match, seqLen: Int) -> [AttentionCandidate] {
    all(for: AttentionLayer(match), seqLen: seqLen)
  }
}
