import AttncTensor

/// ONNX Runtime's contrib op `com.microsoft.EmbedLayerNormalization(input_ids, segment_ids?,
/// word_embedding, position_embedding, segment_embedding?, gamma, beta, mask?, position_ids?)`:
/// BERT's embeddings as ONNX Runtime's optimizer fuses them,
/// `LayerNorm(word[ids] + position[0..<S or position_ids] + segment[segment_ids])`, with
/// outputs the normalized embeddings, `mask_index` (`[B]` int32: each row's mask sum, the key
/// lengths contrib `Attention` reads) and optionally the sum before the norm.
///
/// `expand-embed-layer-normalization` rewrites it into the standard ops it stands for.
public struct EmbedLayerNormalization: AttributedOp {
  public var epsilon: Float

  public init(attributes: Attributes, opset: Int) throws {
    epsilon = try attributes.float("epsilon", default: 1e-12)
  }

  /// `input_ids [B, S]` integers, embeddings `[rows, hidden]` float; outputs `[B, S, hidden]`,
  /// `[B]` int32, and `[B, S, hidden]`.
  /// - Throws: "input_ids must be integer [B, S], got …", "word_embedding must be [rows, hidden]".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(7...9)
    let ids = try inputs.required(0), word = try inputs.required(2)
    guard ids.dtype.isInteger, ids.rank == 2 else {
      throw AttncError.invalid("input_ids must be integer [B, S], got \(ids.type)")
    }
    guard word.dtype.isFloatingPoint, word.rank == 2 else {
      throw AttncError.invalid("word_embedding must be a float [rows, hidden] table, got \(word.type)")
    }
    guard outputCount <= 3 else { throw AttncError.invalid("has at most 3 outputs, got \(outputCount)") }
    let embeddings = TensorType(word.dtype, [ids.dims[0], ids.dims[1], word.dims[1]])
    return Array([embeddings, TensorType(.int32, [ids.dims[0]]), embeddings].prefix(max(outputCount, 1)))
  }
}
