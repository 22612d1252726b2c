import AttncIR
import AttncKernels
import AttncPasses
import AttncTensor

/// Every variant's cost for one matched attention at a sequence length: what `attnc inspect
/// --seq-len N` lists per layer. Costs come from each variant's formula (its definition, next
/// to its kernel), for batch 1 and all query heads; predicted time and error are the cost
/// model's (issue #5) and stay unset here.
public struct AttentionCandidate: Sendable {
  public var variant: String
  public var parameters: [String: Double]
  public var cost: AttentionCost
  /// nil when the variant can run this layer; else why not ("nystrom has no causal form").
  public var refusal: String?

  /// One candidate per variant at its default parameters, for `match` at `seqLen` tokens (every
  /// symbol of its query and key lengths bound to `seqLen`).
  public static func all(for match: MatchAttention.Match, seqLen: Int) -> [AttentionCandidate] {
    func length(_ dim: Dim) -> Int {
      if let value = dim.value { return value }
      return dim.evaluate(Dictionary(uniqueKeysWithValues: dim.symbols.map { ($0, seqLen) })) ?? seqLen
    }
    let spec = match.spec
    let shape = AttentionShape(
      queries: length(match.queries), keys: length(match.keys), depth: spec.headDim, valueDepth: spec.valueDim, causal: spec.causal)
    return AttentionVariants.all.compactMap { definition in
      guard let parameters = try? definition.resolve([:]) else { return nil }
      var cost = definition.cost(shape, parameters)
      let heads = Double(spec.qHeads)
      cost = AttentionCost(
        flops: cost.flops * heads, exponentials: cost.exponentials * heads, bytes: cost.bytes * heads,
        extraMemoryBytes: cost.extraMemoryBytes * heads)
      return AttentionCandidate(
        variant: definition.name, parameters: parameters.values, cost: cost,
        refusal: definition.refusal(causal: spec.causal, mask: spec.mask.rawValue, softcap: spec.softcap))
    }
  }

  public var json: JSON {
    .object([
      ("variant", .string(variant)),
      ("params", .object(parameters.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
      ("gflops", .number(cost.flops / 1e9)), ("exponentials", .number(cost.exponentials)), ("bytes", .number(cost.bytes)),
      ("extra_memory_bytes", .number(cost.extraMemoryBytes)), ("predicted_ms", .null), ("error", .null),
      ("error_source", .string("unmeasured")), ("allowed", .bool(refusal == nil)), ("reason", refusal.map(JSON.string) ?? .null),
    ])
  }
}
