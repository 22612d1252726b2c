import AttncTensor
import AttncKernels

/// What one attention computes, whatever exporter wrote it: the matcher's result and the
/// variant's input. `Y = softmax(softcap(scale·Q·Kᵀ) + mask) · V` per query head, each query head
/// reading key/value head `h / (qHeads / kvHeads)` (GQA, MQA). The scale, causality, softcap
/// and mask are the kernel call's own `AttentionScores`, read as the spec's fields (`spec.causal`).
@dynamicMemberLookup
public struct AttentionSpec: Sendable, Equatable {
  /// What the optional fourth input of the attention holds: the kernel call's own mask kinds
  /// (`FusedAttentionCall.MaskKind`), one definition for the IR and the plan.
  public typealias Mask = FusedAttentionCall.MaskKind

  public var qHeads: Int
  public var kvHeads: Int
  public var headDim: Int
  public var valueDim: Int
  public var scores: AttentionScores
  public var variant: AttentionVariant
  /// With `--seq-len auto`: the variant per range of key lengths, picked per call (then
  /// `variant` is the one planned for the model's nominal length, for reports).
  public var dispatch: AttentionDispatch?

  public init(
    qHeads: Int, kvHeads: Int, headDim: Int, valueDim: Int, scale: Float, causal: Bool = false,
    mask: Mask = .none, maskFill: Float = 0, softcap: Float = 0, variant: AttentionVariant = .softmax
  ) {
    self.qHeads = qHeads
    self.kvHeads = kvHeads
    self.headDim = headDim
    self.valueDim = valueDim
    scores = AttentionScores(scale: scale, causal: causal, softcap: softcap, mask: mask, maskFill: maskFill)
    self.variant = variant
  }

  /// The scores' fields, read and written as the spec's own (`spec.causal`).
  public subscript<Value>(dynamicMember field: WritableKeyPath<AttentionScores, Value>) -> Value {
    get { scores[keyPath: field] }
    set { scores[keyPath: field] = newValue }
  }

  /// `none`, `causal`, `key_padding`, `causal+key_padding`, `additive_bias`, `key_weights`…, as
  /// `inspect` shows.
  public var maskDescription: String {
    switch (scores.causal, scores.mask) {
    case (false, .none): return "none"
    case (true, .none): return "causal"
    case (false, let mask): return mask.rawValue
    case (true, let mask): return "causal+" + mask.rawValue
    }
  }
}

/// Which computation replaces the exact softmax, with its parameters (`performer:m=256`).
public struct AttentionVariant: Sendable, Equatable, CustomStringConvertible {
  public var name: String
  public var parameters: [String: Double]

  public init(name: String, parameters: [String: Double] = [:]) {
    self.name = name
    self.parameters = parameters
  }

  /// Exact attention, fused and tiled.
  public static let softmax = AttentionVariant(name: "softmax")

  /// `name` or `name:key=value,...` with keys sorted, choices by name (`softmax:prec=bf16`).
  public var description: String { AttentionVariants.text(name, parameters) }
}

/// attnc op: one attention, `FusedAttention(Q, K, V, mask?)` with `Q [B, Hq, S, d]`,
/// `K [B, Hkv, L, d]`, `V [B, Hkv, L, dv]` → `Y [B, Hq, S, dv]`, computed as `spec` says.
///
/// Produced by the `match-attention` pass from exported softmax attention, and from ONNX
/// `Attention` nodes that need no cache or score outputs.
public struct FusedAttention: NamedOp {
  public static let type = "FusedAttention"

  public var spec: AttentionSpec

  public init(spec: AttentionSpec) { self.spec = spec }

  /// - Throws: "K has 3 heads but the spec says 2", "mask [B, 7] does not match the keys
  ///   [batch, seq]"…
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(spec.mask == .none ? 3...3 : 4...4)
    let q = try inputs.required(0), k = try inputs.required(1), v = try inputs.required(2)
    for (name, fact) in [("Q", q), ("K", k), ("V", v)] {
      guard fact.dtype == .float, fact.rank == 4 else {
        throw AttncError.invalid("\(name) must be a 4-D float32 tensor, got \(fact.type)")
      }
    }
    let batch = try DimCheck.unify(try DimCheck.unify(q.dims[0], k.dims[0], "batch of Q and K"), v.dims[0], "batch of Q and V")
    let expectations: [(String, Dim, Int)] = [
      ("Q heads", q.dims[1], spec.qHeads), ("K heads", k.dims[1], spec.kvHeads), ("V heads", v.dims[1], spec.kvHeads),
      ("Q head size", q.dims[3], spec.headDim), ("K head size", k.dims[3], spec.headDim), ("V head size", v.dims[3], spec.valueDim),
    ]
    for (what, dim, expected) in expectations {
      _ = try DimCheck.unify(dim, Dim(expected), "\(what) and the attention spec")
    }
    guard spec.kvHeads > 0, spec.qHeads % spec.kvHeads == 0 else {
      throw AttncError.invalid("\(spec.qHeads) query heads are not a multiple of \(spec.kvHeads) key/value heads")
    }
    let keys = try DimCheck.unify(k.dims[2], v.dims[2], "key lengths of K and V")
    let output = [batch, q.dims[1], q.dims[2], v.dims[3]]
    switch spec.mask {
    case .none: break
    case .keyPadding:
      let mask = try inputs.required(3)
      guard mask.rank == 2 else { throw AttncError.invalid("a key-padding mask must be [B, L], got \(mask.dims.shapeDescription)") }
      _ = try DimCheck.unify(mask.dims[0], batch, "mask batch and Q's batch")
      _ = try DimCheck.unify(mask.dims[1], keys, "mask length and the key length")
    case .keyWeights:
      let weights = try inputs.required(3)
      guard weights.dtype == .float, weights.rank == 2 else {
        throw AttncError.invalid("key weights must be float32 [B, L], got \(weights.type)")
      }
      _ = try DimCheck.unify(weights.dims[0], batch, "key weights' batch and Q's batch")
      _ = try DimCheck.unify(weights.dims[1], keys, "key weights' length and the key length")
    case .bias:
      let bias = try inputs.required(3)
      let scores = [batch, q.dims[1], q.dims[2], keys]
      guard bias.dtype == .float, bias.rank <= 4, try Shapes.broadcast([scores, bias.dims]) == scores else {
        throw AttncError.invalid("an additive mask must be float32 broadcasting to \(scores.shapeDescription), got \(bias.type)")
      }
    }
    return [TensorType(.float, output)]
  }
}

extension FusedAttention: Lowerable {
  /// The kernel call that computes `spec`.
  public var call: FusedAttentionCall {
    FusedAttentionCall(
      scores: spec.scores, variant: spec.variant.name, variantValues: spec.variant.parameters,
      dispatch: spec.dispatch?.description)
  }

  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(call) }
}

extension FusedAttention: Tokenwise {
  /// Per token over the queries when Q, K and V are all merged (their token axis 2) and the
  /// mask, if merged, is token merging's own key weights.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let qkv = reads.filter { $0.position < 3 }
    guard qkv.count == 3, qkv.allSatisfy({ $0.axis == 2 }) else {
      return .notPerToken("an attention whose Q, K and V are not all merged")
    }
    if reads.contains(where: { $0.position == 3 }) && spec.mask != .keyWeights { return .notPerToken("a mask over merged tokens") }
    return .perToken([2])
  }
}
