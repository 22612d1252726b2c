import AttncTensor

/// FLuRKA (Gupta et al. 2023/24): low-rank then kernel, `D⁻¹·φ(Q)·(φ(E·K)ᵀ·(F·V))` — the sequence
/// axis of K and V is shrunk to `k` rows first, then a feature map runs on Q and the `k`
/// pseudo-keys (attention-variants.md §2.2); neither `N×N` nor `N×k` is formed. The paper's three
/// variants could not be read (§2.3); attnc names the three corners of its two axes:
/// `flurka-rf` random projection + FAVOR+, `flurka-pool` pooling + FAVOR+, `flurka-elu` pooling +
/// `elu+1`. Encoder only (the projections mix all positions).
///
/// Per-key weights (`flurka-pool`, `flurka-elu`): the pooled pseudo-keys and values are
/// `w`-weighted segment means, and each pseudo-key's feature row is multiplied by its segment's
/// mean weight `w̄_s` (`SequenceProjection.pool`) in numerator and denominator:
/// `o_i = Σ_s w̄_s·φ(q_i)·φ(k̄_s)·v̄_s / Σ_s w̄_s·φ(q_i)·φ(k̄_s)`. With `k ≥ L` every segment is one
/// key and this is the feature-map method's own weighted form. `flurka-rf` refuses weights
/// (its random projection mixes keys before the feature map: `SequenceProjection.random`).
extension AttentionVariantDefinition {
  public static let flurkaRandom = flurka(
    "flurka-rf", "random projection E=δR, F=e^-δ R (k) then FAVOR+ (m), encoder only", random: true, favor: true)
  public static let flurkaPool = flurka("flurka-pool", "segment-mean pooling (k) then FAVOR+ (m), encoder only", random: false, favor: true)
  public static let flurkaElu = flurka("flurka-elu", "segment-mean pooling (k) then elu+1 features, encoder only", random: false, favor: false)

  static func flurka(_ name: String, _ summary: String, random: Bool, favor: Bool) -> AttentionVariantDefinition {
    let features = Parameter("m", default: 128, 1...8192, help: "random features")
    var parameters: [Parameter] = [SequenceProjection.rank]
    if favor { parameters.append(features) }
    if random { parameters.append(SequenceProjection.delta) }
    if favor || random {
      parameters.append(.seed(help: "seed of the features and projection"))
    }
    let form: AttentionFormBuilder = { b, x, p in
      // Pooled keys and values (their mean weights on the features), then FAVOR+ or elu + 1.
      let pooled = SequenceProjection.poolForm(&b, x, rank: p.int(SequenceProjection.rank))
      let m = favor ? p.int(features) : x.depth
      var phiQ: String, phiK: String
      if favor {
        (phiQ, phiK) = Performer.featureForms(&b, x, keys: pooled.keys, features: m) { p.seed(head: $0) &+ 1 }
      } else {
        let one = b.scalar(1, "one")
        phiQ = b.op("Add", b.op("Elu", b.op("Mul", x.q, b.scalar(x.scale, "scale"))), one)
        phiK = b.op("Add", b.op("Elu", pooled.keys), one)
      }
      phiK = b.op("Mul", phiK, pooled.weights)
      return KernelizedForm.attend(&b, phiQ: phiQ, phiK: phiK, v: pooled.values, features: m, valueDepth: x.valueDepth, causal: false)
    }
    return AttentionVariantDefinition(
      name: name, summary: summary, parameters: parameters, supportsCausal: false,
      supportsKeyWeights: { _ in !random }, changesScoreFunction: !favor,
      cost: { s, p in
        let rank = min(p.int(SequenceProjection.rank), s.keys)
        let projection = LowRankCost.projection(s, rank: rank, random: random)
        var reduced = s
        reduced.keys = rank
        let featureCount = favor ? p.int(features) : s.depth
        var cost = KernelizedCost.of(
          reduced, features: featureCount, featureFLOPsPerInput: favor ? 2 * Double(s.depth) + 2 : 1, exponentials: favor)
        if !favor { cost.exponentials = Double(s.queries + rank) * Double(s.depth) / 2 }  // elu on negative inputs
        cost.flops += projection.flops
        cost.extraMemoryBytes += projection.memory
        cost.bytes = AttentionCost.operandBytes(s) + cost.bytes - AttentionCost.operandBytes(reduced)
        return cost
      },
      kernel: { head, p in
        let pooled = SequenceProjection.keysAndValues(of: head, p, random: random)
        guard pooled.rows > 0 else { return }
        let map: FeatureMap =
          favor ? PositiveRandomFeatures(features: p.int(features), depth: head.depth, seed: head.seed &+ 1) : EluFeatures(count: head.depth)
        func run(_ weights: UnsafePointer<Float>?) {
          pooled.x.withUnsafeBufferPointer { kp in
            pooled.y.withUnsafeBufferPointer { vp in
              var reduced = head
              reduced.k = kp.baseAddress!
              reduced.v = vp.baseAddress!
              reduced.keys = pooled.rows
              reduced.keyWeights = weights
              KernelizedAttention.run(reduced, map: map, q: head.scaledQueries())
            }
          }
        }
        if let weights = pooled.weights {
          weights.withUnsafeBufferPointer { run($0.baseAddress!) }
        } else {
          run(nil)
        }
      },
      onnxForm: random ? nil : form,
      onnxRefusal: "its random projection is drawn for each key length, so a symbolic length has no fixed projection")
  }
}
