import AttncTensor

/// ONNX `Attention` (opset 23/24): `softmax(Q·Kᵀ·scale + mask) · V` with GQA, causal masks,
/// softcap and a KV cache. Inputs `Q, K, V, attn_mask?, past_key?, past_value?,
/// nonpad_kv_seqlen?`; outputs `Y, present_key?, present_value?, qk_matmul_output?`.
///
/// 4-D layout: Q `[B, Hq, S, d]`, K `[B, Hkv, L, d]`, V `[B, Hkv, L, dv]` → Y `[B, Hq, S, dv]`.
/// 3-D layout: heads folded into the last axis (`q_num_heads`, `kv_num_heads` required) →
/// Y `[B, S, Hq·dv]`. present K/V are `[B, Hkv, P + L, ·]` with P the past length.
public struct Attention: Op {
  public var isCausal: Bool
  public var qHeads: Int?
  public var kvHeads: Int?
  public var scale: Float?
  public var softcap: Float
  public var qkMatmulOutputMode: Int

  public init(attributes: Attributes, opset: Int) throws {
    isCausal = try attributes.int("is_causal", default: 0) != 0
    qHeads = try attributes.int("q_num_heads")
    kvHeads = try attributes.int("kv_num_heads")
    scale = try attributes.float("scale")
    softcap = try attributes.float("softcap", default: 0)
    qkMatmulOutputMode = try attributes.int("qk_matmul_output_mode", default: 0)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...7)
    let q = try inputs.required(0), k = try inputs.required(1), v = try inputs.required(2)
    guard q.rank == k.rank, k.rank == v.rank, q.rank == 3 || q.rank == 4 else {
      throw AttncError.invalid("Q, K and V must all be 3-D or all 4-D, got ranks \(q.rank), \(k.rank), \(v.rank)")
    }
    try k.expectSameType(as: q, "K", "Q")
    let batch = q.dims[0]
    let queryLength: Dim, keyLength: Dim, hq: Dim, hkv: Dim, dk: Dim, dv: Dim
    if q.rank == 4 {
      (hq, queryLength, hkv, keyLength, dk, dv) = (q.dims[1], q.dims[2], k.dims[1], k.dims[2], k.dims[3], v.dims[3])
    } else {
      guard let qh = qHeads, let kh = kvHeads else {
        throw AttncError.invalid("3-D inputs need the q_num_heads and kv_num_heads attributes")
      }
      (hq, hkv, queryLength, keyLength) = (Dim(qh), Dim(kh), q.dims[1], k.dims[1])
      dk = try DimCheck.divide(k.dims[2], by: kh, "K's hidden size")
      dv = try DimCheck.divide(v.dims[2], by: kh, "V's hidden size")
      _ = try DimCheck.divide(q.dims[2], by: qh, "Q's hidden size")
    }
    if let a = hq.value, let b = hkv.value, b == 0 || a % b != 0 {
      throw AttncError.invalid("q heads \(a) are not a multiple of kv heads \(b)")
    }
    var total = keyLength
    if let past = inputs.optional(4) {
      guard past.rank == 4 else { throw AttncError.invalid("past_key must be 4-D, got rank \(past.rank)") }
      total = past.dims[2] + keyLength
    }
    let y = q.rank == 4 ? [batch, hq, queryLength, dv] : [batch, queryLength, hq * dv]
    return [
      TensorType(q.dtype, y),
      TensorType(k.dtype, [batch, hkv, total, dk]),
      TensorType(v.dtype, [batch, hkv, total, dv]),
      TensorType(q.dtype, [batch, hq, queryLength, total]),
    ]
  }
}

/// ONNX `LinearAttention` (opset 27): a recurrent state `S [B, Hkv, dk, dv]` updated per token
/// (`update_rule` linear, gated, delta or gated_delta) and read by the queries. Inputs
/// `Q, K, V, past_state?, decay?, beta?`; outputs `Y` and `present_state`.
public struct LinearAttention: Op {
  public var qHeads: Int?
  public var kvHeads: Int?
  public var updateRule: String

  public init(attributes: Attributes, opset: Int) throws {
    qHeads = try attributes.int("q_num_heads")
    kvHeads = try attributes.int("kv_num_heads")
    updateRule = try attributes.string("update_rule", default: "gated_delta")
    guard ["linear", "gated", "delta", "gated_delta"].contains(updateRule) else {
      throw AttncError.invalid("update_rule '\(updateRule)' is not one of linear, gated, delta, gated_delta")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...6)
    let q = try inputs.required(0), k = try inputs.required(1), v = try inputs.required(2)
    guard q.rank == k.rank, k.rank == v.rank, q.rank == 3 || q.rank == 4 else {
      throw AttncError.invalid("Q, K and V must all be 3-D or all 4-D")
    }
    if q.rank == 4 {
      return [TensorType(q.dtype, [q.dims[0], q.dims[1], q.dims[2], v.dims[3]]),
              TensorType(q.dtype, [q.dims[0], k.dims[1], k.dims[3], v.dims[3]])]
    }
    guard let qh = qHeads, let kh = kvHeads else {
      throw AttncError.invalid("3-D inputs need the q_num_heads and kv_num_heads attributes")
    }
    let dk = try DimCheck.divide(k.dims[2], by: kh, "K's hidden size")
    let dv = try DimCheck.divide(v.dims[2], by: kh, "V's hidden size")
    return [TensorType(q.dtype, [q.dims[0], q.dims[1], Dim(qh) * dv]),
            TensorType(q.dtype, [q.dims[0], Dim(kh), dk, dv])]
  }
}

/// ONNX `RotaryEmbedding` (opset 23): rotates pairs of features of X by position-dependent
/// angles (cos/sin caches, optional position ids); the output has X's type and shape.
public struct RotaryEmbedding: Op {
  public var interleaved: Bool
  public var numHeads: Int?
  public var rotaryDim: Int

  public init(attributes: Attributes, opset: Int) throws {
    interleaved = try attributes.int("interleaved", default: 0) != 0
    numHeads = try attributes.int("num_heads")
    rotaryDim = try attributes.int("rotary_embedding_dim", default: 0)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...4)
    let x = try inputs.required(0)
    guard x.rank == 3 || x.rank == 4 else { throw AttncError.invalid("X must be 3-D or 4-D, got rank \(x.rank)") }
    if x.rank == 3 && numHeads == nil { throw AttncError.invalid("3-D input needs the num_heads attribute") }
    return [x.type]
  }
}
