import AttncKernels
import AttncTensor

/// ONNX `Attention` (opsets 23–25): `Y = softmax(Q·Kᵀ·scale (+ softcap) + mask) · V` with grouped
/// KV heads, causal and window masks, and a KV cache.
///
/// Inputs `Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen?` (the last from opset
/// 24); outputs `Y, present_key?, present_value?, qk_matmul_output?`. Each of Q, K, V is 4-D,
/// `Q [B, Hq, S, d]`, `K [B, Hkv, L, d]`, `V [B, Hkv, L, dv]`, or 3-D with the heads folded into
/// the last axis (`Q [B, S, Hq·d]`, needing `q_num_heads`; K and V need `kv_num_heads`).
/// `Hq` must be a multiple of `Hkv`. With `P` the past length (`past_key [B, Hkv, P, d]`,
/// `past_value [B, Hkv, P, dv]`, given together) and `T = P + L`: `Y [B, Hq, S, dv]`
/// (`[B, S, Hq·dv]` for a 3-D Q), `present_key [B, Hkv, T, d]`, `present_value [B, Hkv, T, dv]`,
/// `qk_matmul_output [B, Hq, S, T]`. `attn_mask` (bool: true = attend; or additive) broadcasts to
/// `[B, Hq, S, T]`; from opset 24 its last axis may be shorter than `T` (padded with -inf).
/// The shape rule returns all four output types whatever the node uses.
public struct Attention: AttributedOp {
  public var isCausal: Bool
  public var qHeads: Int?
  public var kvHeads: Int?
  /// Scale of `Q·Kᵀ`; nil = `1/√d`.
  public var scale: Float?
  /// Soft cap `c·tanh(x/c)` of the scores; 0 = none.
  public var softcap: Float
  /// What `qk_matmul_output` holds: 0 raw scores, 1 after softcap, 2 after the mask, 3 softmax.
  public var qkMatmulOutputMode: Int
  /// Element type of the softmax computation (`softmax_precision`); nil = the input type.
  public var softmaxPrecision: DType?
  /// Keys allowed to the left / right of a query's absolute position (opset 25); -1 = unbounded.
  public var leftWindow: Int
  public var rightWindow: Int
  /// The model's opset (input count and mask-length rules depend on it).
  public var opset: Int

  /// - Throws: "attribute 'qk_matmul_output_mode' must be 0, 1, 2 or 3, got 4",
  ///   "attribute 'softmax_precision' must be 1, 10, 11 or 16, got 7".
  public init(attributes: Attributes, opset: Int) throws {
    self.opset = opset
    isCausal = try attributes.int("is_causal", default: 0) != 0
    qHeads = try attributes.int("q_num_heads")
    kvHeads = try attributes.int("kv_num_heads")
    scale = try attributes.float("scale")
    softcap = try attributes.float("softcap", default: 0)
    qkMatmulOutputMode = try attributes.int("qk_matmul_output_mode", default: 0)
    guard (0...3).contains(qkMatmulOutputMode) else {
      throw AttncError.invalid(
        "attribute 'qk_matmul_output_mode' must be 0, 1, 2 or 3, got \(qkMatmulOutputMode)")
    }
    if let raw = try attributes.int("softmax_precision") {
      guard [1, 10, 11, 16].contains(raw), let dtype = DType(rawValue: Int32(raw)) else {
        throw AttncError.invalid(
          "attribute 'softmax_precision' must be 1, 10, 11 or 16, got \(raw)")
      }
      softmaxPrecision = dtype
    }
    leftWindow = try attributes.int("left_window_size", default: -1)
    rightWindow = try attributes.int("right_window_size", default: -1)
    for (name, heads) in [("q_num_heads", qHeads), ("kv_num_heads", kvHeads)] {
      if let heads, heads < 1 {
        throw AttncError.invalid("attribute '\(name)' must be positive, got \(heads)")
      }
    }
  }

  /// Heads, sequence length and per-head size of one of Q, K, V.
  struct Layout {
    var batch: Dim
    var heads: Dim
    var length: Dim
    var headSize: Dim
  }

  /// Unfolds a 3-D or reads a 4-D Q, K or V.
  /// - Throws: "input 'Q' must be 3-D or 4-D, got rank 2", "input 'K' is 3-D and needs the
  ///   attribute 'kv_num_heads'", "K's hidden size 30 is not divisible by 4".
  func layout(_ fact: ValueFact, _ name: String, heads attribute: Int?, _ attributeName: String)
    throws -> Layout
  {
    try fact.expectFloatingPoint(name)
    switch fact.rank {
    case 4:
      var heads = fact.dims[1]
      if let attribute {
        heads = try DimCheck.unify(heads, Dim(attribute), "\(name)'s heads and '\(attributeName)'")
      }
      return Layout(batch: fact.dims[0], heads: heads, length: fact.dims[2], headSize: fact.dims[3])
    case 3:
      guard let attribute else {
        throw AttncError.invalid(
          "input '\(name)' is 3-D and needs the attribute '\(attributeName)'")
      }
      let size = try DimCheck.divide(fact.dims[2], by: attribute, "\(name)'s hidden size")
      return Layout(
        batch: fact.dims[0], heads: Dim(attribute), length: fact.dims[1], headSize: size)
    default:
      throw AttncError.invalid("input '\(name)' must be 3-D or 4-D, got rank \(fact.rank)")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(opset >= 24 ? 3...7 : 3...6)
    let qFact = try inputs.required(0)
    let kFact = try inputs.required(1)
    let vFact = try inputs.required(2)
    try kFact.expectSameType(as: qFact, "K", "Q")
    let q = try layout(qFact, "Q", heads: qHeads, "q_num_heads")
    let k = try layout(kFact, "K", heads: kvHeads, "kv_num_heads")
    let v = try layout(vFact, "V", heads: kvHeads, "kv_num_heads")
    var batch = try DimCheck.unify(q.batch, k.batch, "batch sizes of Q and K")
    batch = try DimCheck.unify(batch, v.batch, "batch sizes of Q and V")
    let kvHeadCount = try DimCheck.unify(k.heads, v.heads, "head counts of K and V")
    let keyLength = try DimCheck.unify(k.length, v.length, "sequence lengths of K and V")
    let headSize = try DimCheck.unify(q.headSize, k.headSize, "head sizes of Q and K")
    if let a = q.heads.value, let b = kvHeadCount.value, a % b != 0 {
      throw AttncError.invalid("\(a) query heads are not a multiple of \(b) key/value heads")
    }

    var total = keyLength
    switch (inputs.optional(4), inputs.optional(5)) {
    case (nil, nil): break
    case (let pastKey?, let pastValue?):
      try pastKey.expectSameType(as: kFact, "past_key", "K")
      try pastValue.expectSameType(as: vFact, "past_value", "V")
      try pastKey.expectRank(4, "past_key")
      try pastValue.expectRank(4, "past_value")
      let expected = [batch, kvHeadCount, pastKey.dims[2]]
      for (name, fact, size) in [
        ("past_key", pastKey, headSize), ("past_value", pastValue, v.headSize),
      ] {
        for (i, dim) in (expected + [size]).enumerated() {
          _ = try DimCheck.unify(fact.dims[i], dim, "axis \(i) of '\(name)' and its expected dim")
        }
      }
      total = pastKey.dims[2] + keyLength
    default:
      throw AttncError.invalid("inputs 'past_key' and 'past_value' must be given together")
    }
    if let nonpad = inputs.optional(6) {
      guard nonpad.dtype == .int64, nonpad.rank == 1 else {
        throw AttncError.invalid(
          "input 'nonpad_kv_seqlen' must be an int64 vector, got \(nonpad.type)")
      }
      _ = try DimCheck.unify(nonpad.dims[0], batch, "length of 'nonpad_kv_seqlen' and batch size")
      if inputs.optional(4) != nil {
        throw AttncError.invalid("input 'nonpad_kv_seqlen' cannot be used with 'past_key'")
      }
    }
    if let mask = inputs.optional(3) {
      try checkMask(mask, scores: [batch, q.heads, q.length, total])
    }
    let y =
      qFact.rank == 4
      ? [batch, q.heads, q.length, v.headSize] : [batch, q.length, q.heads * v.headSize]
    return [
      TensorType(qFact.dtype, y),
      TensorType(kFact.dtype, [batch, kvHeadCount, total, headSize]),
      TensorType(vFact.dtype, [batch, kvHeadCount, total, v.headSize]),
      TensorType(qFact.dtype, [batch, q.heads, q.length, total]),
    ]
  }

  /// Throws unless `mask` is bool or numeric and broadcasts to `scores` (`[B, Hq, S, T]`), its
  /// last axis possibly shorter than `T` from opset 24.
  /// - Throws: "input 'attn_mask' of shape [4, 7] does not broadcast to the scores [2, 3, 4, 6]".
  func checkMask(_ mask: ValueFact, scores: [Dim]) throws {
    guard mask.dtype == .bool || mask.dtype.isFloatingPoint || mask.dtype.isInteger else {
      throw AttncError.invalid("input 'attn_mask' must be bool or numeric, got \(mask.dtype)")
    }
    let failure = AttncError.invalid(
      "input 'attn_mask' of shape \(mask.dims.shapeDescription) does not broadcast to the "
        + "scores \(scores.shapeDescription)")
    guard mask.rank <= 4 else { throw failure }
    guard let last = mask.dims.last else { return }
    let leading = Array(mask.dims.dropLast())
    guard let broadcast = try? Shapes.broadcast([leading, Array(scores.prefix(3))]),
      broadcast.count == 3
    else { throw failure }
    let total = scores[3]
    if last == total || last == 1 { return }
    if let m = last.value, let t = total.value, m != t, !(opset >= 24 && m < t) {
      throw failure
    }
  }
}

extension Attention: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(AttentionCall(options: .init(
      qHeads: qHeads, kvHeads: kvHeads, scale: scale, causal: isCausal, softcap: softcap, qkMode: qkMatmulOutputMode,
      leftWindow: leftWindow, rightWindow: rightWindow)))
  }
}
