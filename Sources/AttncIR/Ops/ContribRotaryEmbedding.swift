import AttncTensor

/// ONNX Runtime's contrib op `com.microsoft.RotaryEmbedding(input, position_ids, cos_cache,
/// sin_cache) → output`: the rotary embedding of ONNX's `RotaryEmbedding` (opset 23) with its
/// inputs in another order, `position_ids` `[B, S]` or one start position `[1]`, and a `scale`.
/// `expand-contrib-attention` rewrites it into ONNX's op.
public struct ContribRotaryEmbedding: AttributedOp {
  public var interleaved: Bool
  public var numHeads: Int
  /// 0 = the head size.
  public var rotaryDim: Int
  public var scale: Float
  public var packedBatching: Bool

  public init(attributes: Attributes, opset: Int) throws {
    interleaved = try attributes.int("interleaved", default: 0) != 0
    numHeads = try attributes.int("num_heads", default: 0)
    rotaryDim = try attributes.int("rotary_embedding_dim", default: 0)
    scale = try attributes.float("scale", default: 1)
    packedBatching = try attributes.int("is_packed_batching", default: 0) != 0
    guard numHeads >= 0, rotaryDim >= 0, rotaryDim % 2 == 0 else {
      throw AttncError.invalid("attributes 'num_heads' and 'rotary_embedding_dim' must be non-negative, the latter even")
    }
  }

  /// The input's type.
  /// - Throws: a 3-D input without `num_heads` (and no rotary dim to take the head size from).
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(4...4)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("input")
    guard x.rank == 4 || (x.rank == 3 && numHeads > 0) else {
      throw AttncError.invalid("input must be [B, H, S, d], or [B, S, H·d] with num_heads, got \(x.dims.shapeDescription)")
    }
    return [x.type]
  }
}

extension ContribRotaryEmbedding: Lowerable {
  /// There is no kernel of its own: `expand-contrib-attention` rewrites it into ONNX's
  /// `RotaryEmbedding`; the forms it does not take end here.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    throw AttncError.unsupported("this form of com.microsoft.RotaryEmbedding is not supported: \(ContribAttentionForms.rotaryRefusal(self, context) ?? "it was not expanded")")
  }
}
