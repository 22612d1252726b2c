import AttncIR
import AttncKernels
import AttncTensor

/// Puts variants on matched attentions: `attnc convert --variant`, `--layers` and the policies'
/// per-layer choices. Each `FusedAttention` whose mask, causality and softcap the variant honours
/// gets it; the others stay exact, with the reason. Variants with random features or projections
/// get a seed per layer (the requested seed mixed with the layer index), recorded in the plan;
/// each head mixes in its index at run time, so runs are reproducible.
public enum ApplyAttentionVariant {
  /// What happened to one attention layer.
  public struct Outcome: Sendable {
    public var layer: Int
    public var node: String
    /// The variant the layer runs (softmax when refused).
    public var variant: AttentionVariant
    /// Why the requested variant was not applied, or nil.
    public var refusal: String?
    /// The per-length table, when one was applied.
    public var dispatch: AttentionDispatch?
  }

  /// What one layer should run: a variant (`NAME` or `NAME:key=value,...`, `seed=` is the base
  /// seed), and optionally a table of variants by key length.
  public struct Assignment: Sendable {
    public var variant: String
    public var dispatch: AttentionDispatch?
    public init(variant: String, dispatch: AttentionDispatch? = nil) {
      self.variant = variant
      self.dispatch = dispatch
    }
  }

  /// Puts `text` on every layer (or those in `layers`).
  /// - Throws: an unknown variant or parameter.
  public static func apply(_ text: String, to graph: inout Graph, layers: Set<Int>? = nil) throws -> [Outcome] {
    _ = try AttentionVariants.parse(text)
    let count = graph.nodes.filter { $0.op is FusedAttention }.count
    var assignments: [Int: Assignment] = [:]
    for layer in 0..<count where layers?.contains(layer) ?? true { assignments[layer] = Assignment(variant: text) }
    return try apply(assignments, to: &graph)
  }

  /// Puts each layer's assignment on it; layers without one keep what they run.
  /// - Throws: an unknown variant or parameter.
  public static func apply(_ assignments: [Int: Assignment], to graph: inout Graph) throws -> [Outcome] {
    var outcomes: [Outcome] = []
    for index in graph.nodes.indices {
      guard var op = graph.nodes[index].op as? FusedAttention else { continue }
      let layer = outcomes.count
      let node = graph.nodes[index].name
      let spec = op.spec
      guard let assignment = assignments[layer] else {
        outcomes.append(Outcome(layer: layer, node: node, variant: spec.variant, refusal: nil, dispatch: spec.dispatch))
        continue
      }
      let (definition, variant) = try resolve(assignment.variant, layer: layer)
      if let refusal = definition.refusal(
        causal: spec.causal, mask: spec.mask.rawValue, softcap: spec.softcap, parameters: VariantParameters(variant.parameters)) {
        outcomes.append(Outcome(layer: layer, node: node, variant: spec.variant, refusal: refusal, dispatch: spec.dispatch))
        continue
      }
      op.spec.variant = variant
      op.spec.dispatch = nil
      if let dispatch = assignment.dispatch {
        var entries: [AttentionDispatch.Entry] = []
        for entry in dispatch.entries {
          let (entryDefinition, entryVariant) = try resolve(entry.variant, layer: layer)
          if let refusal = entryDefinition.refusal(
            causal: spec.causal, mask: spec.mask.rawValue, softcap: spec.softcap,
            parameters: VariantParameters(entryVariant.parameters)) {
            throw AttncError.invalid("layer \(layer) ('\(node)'): dispatch entry '\(entry.variant)': \(refusal)")
          }
          entries.append(.init(minimumKeys: entry.minimumKeys, variant: entryVariant.description))
        }
        let table = try AttentionDispatch(entries)
        op.spec.dispatch = table.entries.count > 1 ? table : nil
      }
      graph.nodes[index].op = op
      outcomes.append(Outcome(layer: layer, node: node, variant: op.spec.variant, refusal: nil, dispatch: op.spec.dispatch))
    }
    return outcomes
  }

  /// The variant of `text` for `layer`, its seed (if it uses one) mixed with the layer index.
  public static func resolve(_ text: String, layer: Int) throws -> (AttentionVariantDefinition, AttentionVariant) {
    let (definition, parameters) = try AttentionVariants.parse(text)
    var values = parameters.values
    if definition.usesSeed { values["seed"] = Double(layerSeed(base: parameters.int("seed"), layer: layer)) }
    return (definition, AttentionVariant(name: definition.name, parameters: values))
  }

  /// A layer's seed: the base seed mixed with the layer index, cut to 52 bits so the plan's
  /// double-valued parameter holds it exactly.
  public static func layerSeed(base: Int, layer: Int) -> UInt64 {
    VariantParameters.mix(UInt64(truncatingIfNeeded: base), layer) & ((1 << 52) - 1)
  }
}
