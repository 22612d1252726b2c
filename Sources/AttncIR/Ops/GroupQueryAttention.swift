import AttncTensor

/// ONNX Runtime's contrib op `com.microsoft.GroupQueryAttention(query, key?, value?, past_key?,
/// past_value?, seqlens_k, total_sequence_length, cos_cache?, sin_cache?, …) → output,
/// present_key, present_value`: causal attention of `num_heads` query heads on `kv_num_heads`
/// key/value heads with a KV cache (`[B, Hkv, P, d]`), optionally with its own rotary embedding of
/// Q and K (`do_rotary`, angles from `cos_cache`/`sin_cache` at positions `P + i`).
///
/// `query` is `[B, S, H·d]`, or packed `[B, S, (H + 2·Hkv)·d]` with no key and value. attnc reads
/// the growing-cache form (`total_sequence_length = P + S`, presents `[B, Hkv, P + S, d]`), batch
/// entries' lengths from `seqlens_k` (a ragged batch: entry b's own cache is its first
/// `seqlens_k[b] + 1 − S` past keys); `expand-contrib-attention` rewrites it into standard ops.
public struct GroupQueryAttention: AttributedOp {
  public var heads: Int
  public var kvHeads: Int
  /// 0 = `1/√(head size)`.
  public var scale: Float
  /// Left window of local attention; −1 = none.
  public var localWindow: Int
  public var doRotary: Bool
  public var rotaryInterleaved: Bool
  public var softcap: Float
  public var smoothSoftmax: Bool
  public var qkOutput: Int
  public var causal: Bool

  public init(attributes: Attributes, opset: Int) throws {
    guard let heads = try attributes.int("num_heads"), heads > 0, let kvHeads = try attributes.int("kv_num_heads"), kvHeads > 0,
      heads % kvHeads == 0
    else {
      throw AttncError.invalid("attributes 'num_heads' and 'kv_num_heads' are required, positive, and num_heads a multiple of kv_num_heads")
    }
    (self.heads, self.kvHeads) = (heads, kvHeads)
    scale = try attributes.float("scale", default: 0)
    localWindow = try attributes.int("local_window_size", default: -1)
    doRotary = try attributes.int("do_rotary", default: 0) != 0
    rotaryInterleaved = try attributes.int("rotary_interleaved", default: 0) != 0
    softcap = try attributes.float("softcap", default: 0)
    smoothSoftmax = try attributes.int("smooth_softmax", default: 0) != 0
    qkOutput = try attributes.int("qk_output", default: 0)
    causal = try attributes.int("causal", default: 1) != 0
  }

  /// The head size and the query, key and value widths: `(d, H·d, Hkv·d)`.
  /// - Throws: when the query (packed or not) does not split into the heads.
  public func widths(_ inputs: [ValueFact?]) throws -> (depth: Int, query: Int, kv: Int) {
    let query = try inputs.required(0)
    guard query.rank == 3, let width = query.dims[2].value else {
      throw AttncError.invalid("query must be [B, S, hidden] of known width, got \(query.dims.shapeDescription)")
    }
    let packed = inputs.optional(1) == nil
    let parts = packed ? heads + 2 * kvHeads : heads
    guard width % parts == 0 else {
      throw AttncError.invalid("query width \(width) does not split into \(parts) heads")
    }
    return (width / parts, width / parts * heads, width / parts * kvHeads)
  }

  /// `[B, S, H·d]` and, with the growing cache, `present_key`/`present_value` `[B, Hkv, P + S, d]`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(7...14)
    let query = try inputs.required(0)
    try query.expectFloatingPoint("query")
    let sizes = try widths(inputs)
    var keys = query.dims[1]
    if let past = inputs.optional(3) {
      guard past.rank == 4 else { throw AttncError.invalid("past_key must be [B, Hkv, P, d], got \(past.dims.shapeDescription)") }
      keys = past.dims[2] + keys
    }
    let present = TensorType(query.dtype, [query.dims[0], Dim(kvHeads), keys, Dim(sizes.depth)])
    return [TensorType(query.dtype, [query.dims[0], query.dims[1], Dim(sizes.query)])]
      + Array(repeating: present, count: min(2, max(0, outputCount - 1)))
      + (outputCount > 3 ? [TensorType(.float, [query.dims[0], Dim(heads), query.dims[1], keys])] : [])
  }
}

extension GroupQueryAttention: Lowerable {
  /// There is no kernel: `expand-contrib-attention` rewrites the forms it takes; the others end here.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    throw AttncError.unsupported("this form of GroupQueryAttention is not supported: \(ContribAttentionForms.groupQueryRefusal(self, context) ?? "it was not expanded")")
  }
}
