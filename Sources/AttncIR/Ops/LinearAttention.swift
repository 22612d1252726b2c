import AttncKernels
import AttncTensor

/// ONNX `LinearAttention` (opset 27): attention through a recurrent state `S [B, Hkv, dk, dv]`
/// updated token by token, `oₜ = scale · qₜᵀ Sₜ` (scale default `1/√dk`), with `update_rule`
///
/// - `linear`: `Sₜ = Sₜ₋₁ + kₜ ⊗ vₜ`
/// - `gated`: `Sₜ = exp(gₜ)·Sₜ₋₁ + kₜ ⊗ vₜ`
/// - `delta`: `Sₜ = Sₜ₋₁ + βₜ·kₜ ⊗ (vₜ - Sₜ₋₁ᵀkₜ)`
/// - `gated_delta` (default): `Sₜ = exp(gₜ)·Sₜ₋₁ + βₜ·kₜ ⊗ (vₜ - exp(gₜ)·Sₜ₋₁ᵀkₜ)`.
///
/// Inputs `query [B, T, Hq·dk]`, `key [B, T, Hkv·dk]`, `value [B, T, Hkv·dv]`, `past_state?
/// [B, Hkv, dk, dv]` (zeros when absent), `decay? g [B, T, Hkv·dk]` or `[B, T, Hkv]` (required by
/// the gated rules), `beta? β [B, T, Hkv]` or `[B, T, 1]` (required by the delta rules).
/// Outputs `output [B, T, Hq·dv]` and `present_state [B, Hkv, dk, dv]`. `q_num_heads` and
/// `kv_num_heads` are required; `Hq` is a multiple of `Hkv`.
public struct LinearAttention: AttributedOp {
  /// The recurrence (`update_rule`).
  public enum UpdateRule: String, Sendable {
    case linear, gated, delta
    case gatedDelta = "gated_delta"

    var needsDecay: Bool { self == .gated || self == .gatedDelta }
    var needsBeta: Bool { self == .delta || self == .gatedDelta }
  }

  public var qHeads: Int
  public var kvHeads: Int
  public var updateRule: UpdateRule
  /// Output scale; 0 = `1/√dk`.
  public var scale: Float
  /// Chunk length hint for chunk-parallel prefill; does not change results.
  public var chunkSize: Int

  /// - Throws: "attribute 'q_num_heads' is required", "attribute 'update_rule' is 'x', not one
  ///   of linear, gated, delta, gated_delta", "8 query heads are not a multiple of 3 key/value
  ///   heads".
  public init(attributes: Attributes, opset: Int) throws {
    guard let q = try attributes.int("q_num_heads") else {
      throw AttncError.invalid("attribute 'q_num_heads' is required")
    }
    guard let kv = try attributes.int("kv_num_heads") else {
      throw AttncError.invalid("attribute 'kv_num_heads' is required")
    }
    guard q >= 1, kv >= 1, q % kv == 0 else {
      throw AttncError.invalid("\(q) query heads are not a multiple of \(kv) key/value heads")
    }
    qHeads = q
    kvHeads = kv
    let rule = try attributes.string("update_rule", default: "gated_delta")
    guard let updateRule = UpdateRule(rawValue: rule) else {
      throw AttncError.invalid(
        "attribute 'update_rule' is '\(rule)', not one of linear, gated, delta, gated_delta")
    }
    self.updateRule = updateRule
    scale = try attributes.float("scale", default: 0)
    chunkSize = try attributes.int("chunk_size", default: 64)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...6)
    let operands = try inputs.floatOperands("query", "key", "value")
    let (q, k, v) = (operands[0], operands[1], operands[2])
    for (fact, name) in zip(operands, ["query", "key", "value"]) { try fact.expectRank(3, name) }
    var batch = try DimCheck.unify(q.dims[0], k.dims[0], "batch sizes of query and key")
    batch = try DimCheck.unify(batch, v.dims[0], "batch sizes of query and value")
    var length = try DimCheck.unify(q.dims[1], k.dims[1], "sequence lengths of query and key")
    length = try DimCheck.unify(length, v.dims[1], "sequence lengths of query and value")
    let dk = try DimCheck.unify(
      try DimCheck.divide(q.dims[2], by: qHeads, "query's hidden size"),
      try DimCheck.divide(k.dims[2], by: kvHeads, "key's hidden size"),
      "head sizes of query and key")
    let dv = try DimCheck.divide(v.dims[2], by: kvHeads, "value's hidden size")
    let heads = Dim(kvHeads)
    var stateType = q.dtype
    if let past = inputs.optional(3) {
      try past.expectFloatingPoint("past_state")
      try past.expectRank(4, "past_state")
      for (i, dim) in [batch, heads, dk, dv].enumerated() {
        _ = try DimCheck.unify(past.dims[i], dim, "axis \(i) of 'past_state' and its expected dim")
      }
      stateType = past.dtype
    }
    try checkGate(
      inputs.optional(4), "decay", batch, length, [heads * dk, heads], updateRule.needsDecay, q)
    try checkGate(inputs.optional(5), "beta", batch, length, [heads, 1], updateRule.needsBeta, q)
    return [
      TensorType(q.dtype, [batch, length, Dim(qHeads) * dv]),
      TensorType(stateType, [batch, heads, dk, dv]),
    ]
  }

  /// Checks `decay` or `beta`: `[B, T, w]` with `w` one of `widths`, present when `required`.
  /// - Throws: "input 'beta' is required by update_rule 'delta'", "input 'decay' of shape
  ///   [2, 4, 5] must be [B, T, 32] or [B, T, 4]".
  func checkGate(
    _ fact: ValueFact?, _ name: String, _ batch: Dim, _ length: Dim, _ widths: [Dim],
    _ required: Bool, _ q: ValueFact
  ) throws {
    guard let fact else {
      guard !required else {
        throw AttncError.invalid(
          "input '\(name)' is required by update_rule '\(updateRule.rawValue)'")
      }
      return
    }
    try fact.expectSameType(as: q, name, "query")
    try fact.expectRank(3, name)
    _ = try DimCheck.unify(fact.dims[0], batch, "batch sizes of '\(name)' and query")
    _ = try DimCheck.unify(fact.dims[1], length, "sequence lengths of '\(name)' and query")
    let width = fact.dims[2]
    let fits = widths.contains(width) || !width.isConstant || widths.contains { !$0.isConstant }
    guard fits else {
      let allowed = widths.map { "[B, T, \($0)]" }.joined(separator: " or ")
      throw AttncError.invalid(
        "input '\(name)' of shape \(fact.dims.shapeDescription) must be \(allowed)")
    }
  }
}

extension LinearAttention: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let (decays, correctsDelta): (Bool, Bool)
    switch updateRule {
    case .linear: (decays, correctsDelta) = (false, false)
    case .gated: (decays, correctsDelta) = (true, false)
    case .delta: (decays, correctsDelta) = (false, true)
    case .gatedDelta: (decays, correctsDelta) = (true, true)
    }
    return Lowering(LinearAttentionCall(options: .init(
      qHeads: qHeads, kvHeads: kvHeads, scale: scale, decays: decays, correctsDelta: correctsDelta)))
  }
}
