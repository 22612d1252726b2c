import AttncTensor

/// ONNX Runtime's contrib op `com.microsoft.MultiHeadAttention(query, key?, value?, bias?,
/// key_padding_mask?, attention_bias?, past_key?, past_value?, past_sequence_length?,
/// cache_indirection?) → output, present_key?, present_value?, qk?`: multi-head self- or
/// cross-attention on projected Q, K, V, `Y = concat_h softmax(scale·Q_h·K_hᵀ + masks)·V_h`.
///
/// `query` is `[B, S, H·d]`, or packed `[B, S, H, 3, d]` with no key and value; `key` is
/// `[B, L, H·d]`, packed `[B, L, H, 2, d]` with no value, or per head `[B, H, L, d]`; `bias` adds
/// to the 3-D Q, K, V; the past keys and values (`[B, H, P, d]`) come before the new ones
/// (`present = Concat(past, new)`); `unidirectional` makes query `i` see keys up to `P + i`.
/// attnc has no kernel for it: `expand-contrib-attention` rewrites it into standard ops.
public struct ContribMultiHeadAttention: AttributedOp {
  public var settings: ContribAttentionSettings
  public var heads: Int { settings.heads }

  public init(attributes: Attributes, opset: Int) throws { settings = try ContribAttentionSettings(attributes) }

  /// `(B, S, H·d, H·dv, L)` of the query, key and value forms, and the key's per-head form.
  /// - Throws: "query [2, 3] is neither [B, S, H·d] nor packed [B, S, H, 3, d]"…
  public func operands(_ inputs: [ValueFact?]) throws -> (batch: Dim, queries: Dim, depth: Int, valueDepth: Int, keys: Dim, keyForm: KeyForm) {
    let query = try inputs.required(0)
    let key = inputs.optional(1), value = inputs.optional(2)
    if query.rank == 5 {
      guard key == nil, value == nil, query.dims[2].value == heads, query.dims[3].value == 3, let d = query.dims[4].value else {
        throw AttncError.invalid("packed query \(query.dims.shapeDescription) must be [B, S, \(heads), 3, d] with no key and value")
      }
      return (query.dims[0], query.dims[1], d, d, query.dims[1], .packedWithQuery)
    }
    guard query.rank == 3, let width = query.dims[2].value, width % heads == 0, let key else {
      throw AttncError.invalid("query \(query.dims.shapeDescription) must be [B, S, H·d] (H = \(heads)) with a key, or packed [B, S, H, 3, d]")
    }
    switch key.rank {
    case 5:
      guard value == nil, key.dims[2].value == heads, key.dims[3].value == 2, key.dims[4].value == width / heads else {
        throw AttncError.invalid("packed key \(key.dims.shapeDescription) must be [B, L, \(heads), 2, \(width / heads)] with no value")
      }
      return (query.dims[0], query.dims[1], width / heads, width / heads, key.dims[1], .packed)
    case 4:
      guard let value, value.rank == 4, key.dims[1].value == heads, let dv = value.dims[3].value else {
        throw AttncError.invalid("per-head key \(key.dims.shapeDescription) needs a per-head value [B, \(heads), L, dv]")
      }
      return (query.dims[0], query.dims[1], width / heads, dv, key.dims[2], .perHead)
    case 3:
      guard let value, value.rank == 3, let vWidth = value.dims[2].value, vWidth % heads == 0 else {
        throw AttncError.invalid("key \(key.dims.shapeDescription) needs a value [B, L, H·dv]")
      }
      return (query.dims[0], query.dims[1], width / heads, vWidth / heads, key.dims[1], .hidden)
    default:
      throw AttncError.invalid("key \(key.dims.shapeDescription) is neither [B, L, H·d], packed [B, L, H, 2, d] nor [B, H, L, d]")
    }
  }

  /// How the key (and value) arrive.
  public enum KeyForm: Sendable {
    /// `[B, L, H·d]` each.
    case hidden
    /// `[B, L, H, 2, d]`: K and V packed in the key input.
    case packed
    /// `[B, S, H, 3, d]`: Q, K and V packed in the query input.
    case packedWithQuery
    /// `[B, H, L, d]` each, already per head (a cross-attention cache).
    case perHead
  }

  /// `[B, S, H·dv]`; with a cache, `present_key`/`present_value` `[B, H, P + L, ·]`; `qk`
  /// `[B, H, S, total]`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...10)
    let query = try inputs.required(0)
    try query.expectFloatingPoint("query")
    let shape = try operands(inputs)
    var keys = shape.keys
    if let past = inputs.optional(6) {
      guard past.rank == 4 else { throw AttncError.invalid("past_key must be [B, H, P, d], got \(past.dims.shapeDescription)") }
      keys = past.dims[2] + keys
    }
    var result = [TensorType(query.dtype, [shape.batch, shape.queries, Dim(heads * shape.valueDepth)])]
    if outputCount > 1 { result.append(TensorType(query.dtype, [shape.batch, Dim(heads), keys, Dim(shape.depth)])) }
    if outputCount > 2 { result.append(TensorType(query.dtype, [shape.batch, Dim(heads), keys, Dim(shape.valueDepth)])) }
    if outputCount > 3 { result.append(TensorType(query.dtype, [shape.batch, Dim(heads), shape.queries, keys])) }
    return result
  }
}

extension ContribMultiHeadAttention: Lowerable {
  /// There is no kernel: `expand-contrib-attention` rewrites the forms it takes; the others end here.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    throw AttncError.unsupported("this form of MultiHeadAttention is not supported: \(ContribAttentionForms.multiHeadRefusal(self, context) ?? "it was not expanded")")
  }
}
