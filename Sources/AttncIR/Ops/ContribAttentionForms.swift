import AttncTensor

/// Which forms of ONNX Runtime's contrib attention ops `expand-contrib-attention` rewrites: each
/// function says why a node cannot be (nil when it can), from its input facts and the outputs
/// read. Lowering reports the same reason for a node left in the graph.
public enum ContribAttentionForms {
  /// `com.microsoft.Attention`.
  public static func attentionRefusal(_ op: ContribAttention, _ context: NodeContext) -> String? {
    let inputs = context.inputs
    if op.doRotary { return "do_rotary is not supported" }
    if op.sharesBuffer || inputs.optional(6) != nil { return "past_present_share_buffer (a preallocated cache) is not supported" }
    guard let x = inputs.optional(0), x.dtype == .float, x.rank == 3 else { return "input is not a float32 [B, S, hidden] tensor" }
    if let mask = inputs.optional(3), let refusal = maskRefusal(mask, batch: x.dims[0]) { return refusal }
    if let past = inputs.optional(4), past.rank != 5 || past.dtype != .float {
      return "past is not a float32 [2, B, H, P, d] cache"
    }
    if inputs.optional(4) != nil, let sizes = op.qkvHiddenSizes, Set(sizes).count > 1 {
      return "a cache needs equal Q, K and V hidden sizes, got \(sizes)"
    }
    return nil
  }

  /// `com.microsoft.MultiHeadAttention`.
  public static func multiHeadRefusal(_ op: ContribMultiHeadAttention, _ context: NodeContext) -> String? {
    let inputs = context.inputs
    guard let query = inputs.optional(0), query.dtype == .float else { return "query is not float32" }
    let form: ContribMultiHeadAttention.KeyForm
    do { form = try op.operands(inputs).keyForm } catch { return "\(error)" }
    if inputs.optional(3) != nil && form != .hidden { return "a bias needs separate [B, L, H·d] keys and values" }
    if let mask = inputs.optional(4), let refusal = maskRefusal(mask, batch: query.dims[0]) { return refusal }
    if inputs.optional(6) != nil || inputs.optional(7) != nil {
      guard form == .hidden || form == .packed, let past = inputs.optional(6), let pastValue = inputs.optional(7), past.rank == 4,
        pastValue.rank == 4, past.dtype == .float, pastValue.dtype == .float
      else { return "past_key and past_value must both be float32 [B, H, P, d], with keys given per token" }
    }
    if inputs.optional(8) != nil { return "past_sequence_length (a preallocated cache) is not supported" }
    if inputs.optional(9) != nil { return "cache_indirection (beam search) is not supported" }
    if context.isConsumed(3) { return "the qk output is not supported" }
    return nil
  }

  /// `com.microsoft.GroupQueryAttention`.
  public static func groupQueryRefusal(_ op: GroupQueryAttention, _ context: NodeContext) -> String? {
    let inputs = context.inputs
    guard let query = inputs.optional(0), query.dtype == .float else { return "query is not float32" }
    do { _ = try op.widths(inputs) } catch { return "\(error)" }
    if op.localWindow >= 0 { return "local_window_size \(op.localWindow) (sliding-window attention) is not supported" }
    if op.softcap != 0 { return "softcap is not supported" }
    if op.smoothSoftmax || inputs.optional(11) != nil { return "smooth softmax and head sinks are not supported" }
    if op.qkOutput != 0 || context.isConsumed(3) { return "the QK output is not supported" }
    if inputs.count > 12, inputs[12...].contains(where: { $0 != nil }) { return "quantized caches and Q/K norms are not supported" }
    if (inputs.optional(1) == nil) != (inputs.optional(2) == nil) { return "key and value must both be given, or neither (packed QKV)" }
    for index in [3, 4] {
      if let past = inputs.optional(index), past.dtype != .float || past.rank != 4 { return "the cache is not float32 [B, Hkv, P, d]" }
    }
    if (inputs.optional(3) == nil) != (inputs.optional(4) == nil) { return "past_key and past_value must both be given, or neither" }
    if op.doRotary && (inputs.optional(7) == nil || inputs.optional(8) == nil) { return "do_rotary needs cos_cache and sin_cache" }
    return nil
  }

  /// `com.microsoft.RotaryEmbedding`.
  public static func rotaryRefusal(_ op: ContribRotaryEmbedding, _ context: NodeContext) -> String? {
    if op.scale != 1 { return "scale \(op.scale) is not supported" }
    if op.packedBatching { return "is_packed_batching is not supported" }
    guard let x = context.inputs.optional(0), x.dtype == .float else { return "input is not float32" }
    guard let positions = context.inputs.optional(1), positions.rank == 2 || (positions.rank == 1 && positions.dims[0] == Dim(1)) else {
      return "position_ids must be [B, S] or one start position [1]"
    }
    return nil
  }

  /// A key mask of `[B]` key lengths, `[B, L]` or `[B, S, L]` 0/1 entries; nil when it is one.
  static func maskRefusal(_ mask: ValueFact, batch: Dim) -> String? {
    switch mask.rank {
    case 2, 3: return nil
    case 1 where mask.dtype.isInteger && mask.dims[0] == batch: return nil
    default: return "the mask \(mask.type) is neither [B] key lengths, [B, L] nor [B, S, L] (left-padding [2·B] and Megatron masks are not supported)"
    }
  }
}

/// What `com.microsoft` Attention and MultiHeadAttention share: `num_heads` (required, positive),
/// `scale` (0 = `1/√d`), `mask_filter_value` (added to padded keys' scores, default −10000) and
/// `unidirectional` (causal).
public struct ContribAttentionSettings: Sendable {
  public var heads: Int
  public var scale: Float
  public var maskFilterValue: Float
  public var unidirectional: Bool

  /// - Throws: "attribute 'num_heads' is required and must be positive".
  init(_ attributes: Attributes) throws {
    guard let heads = try attributes.int("num_heads"), heads > 0 else {
      throw AttncError.invalid("attribute 'num_heads' is required and must be positive")
    }
    self.heads = heads
    scale = try attributes.float("scale", default: 0)
    maskFilterValue = try attributes.float("mask_filter_value", default: -10000)
    unidirectional = try attributes.int("unidirectional", default: 0) != 0
  }

  /// The score scale for heads of `depth`.
  public func scale(depth: Int) -> Float { scale != 0 ? scale : 1 / Float(depth).squareRoot() }
}
