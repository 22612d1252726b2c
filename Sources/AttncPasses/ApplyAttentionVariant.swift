import AttncIR
import AttncKernels
import AttncTensor

/// Puts a variant on matched attentions (`attnc convert --variant NAME[:key=value,...]`): every
/// `FusedAttention` whose mask, causality and softcap the variant honours gets it; the others
/// stay exact, with the reason. Variants with random features or projections get a seed per
/// layer (the user's seed mixed with the layer index), recorded in the plan; each head mixes in
/// its index at run time, so runs are reproducible.
public enum ApplyAttentionVariant {
  /// What happened to one attention layer.
  public struct Outcome: Sendable {
    public var layer: Int
    public var node: String
    /// The variant the layer runs (softmax when refused).
    public var variant: AttentionVariant
    /// Why the requested variant was not applied, or nil.
    public var refusal: String?
  }

  /// - Parameters:
  ///   - text: `NAME` or `NAME:key=value,...`; `seed=` is the base seed.
  ///   - layers: which attention layers (in graph order) to change; nil = all.
  /// - Throws: an unknown variant or parameter.
  public static func apply(_ text: String, to graph: inout Graph, layers: Set<Int>? = nil) throws -> [Outcome] {
    let (definition, parameters) = try AttentionVariants.parse(text)
    var outcomes: [Outcome] = []
    for index in graph.nodes.indices {
      guard var op = graph.nodes[index].op as? FusedAttention else { continue }
      let layer = outcomes.count
      let node = graph.nodes[index].name
      let spec = op.spec
      if let layers, !layers.contains(layer) {
        outcomes.append(Outcome(layer: layer, node: node, variant: spec.variant, refusal: nil))
        continue
      }
      if let refusal = definition.refusal(causal: spec.causal, mask: spec.mask.rawValue, softcap: spec.softcap) {
        outcomes.append(Outcome(layer: layer, node: node, variant: spec.variant, refusal: refusal))
        continue
      }
      var values = parameters.values
      if definition.usesSeed { values["seed"] = Double(layerSeed(base: parameters.int("seed"), layer: layer)) }
      op.spec.variant = AttentionVariant(name: definition.name, parameters: values)
      graph.nodes[index].op = op
      outcomes.append(Outcome(layer: layer, node: node, variant: op.spec.variant, refusal: nil))
    }
    return outcomes
  }

  /// A layer's seed: the base seed mixed with the layer index, cut to 52 bits so the plan's
  /// double-valued parameter holds it exactly.
  static func layerSeed(base: Int, layer: Int) -> UInt64 {
    VariantParameters.mix(UInt64(truncatingIfNeeded: base), layer) & ((1 << 52) - 1)
  }
}
