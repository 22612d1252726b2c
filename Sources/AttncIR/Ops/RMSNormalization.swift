import AttncKernels
import AttncTensor

/// `RMSNormalization(X, scale)` (opset 23) over the trailing axes from `axis` (default -1):
/// `Y = X / sqrt(mean(X²) + epsilon) · scale`, the mean taken over those axes, computed in
/// `stash_type` (default float32). `scale` broadcasts one way to `X.dims[axis...]`.
public struct RMSNormalization: Op {
  public var axis: Int
  public var epsilon: Float
  /// Precision of the mean of squares.
  public var stashType: DType

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: -1)
    epsilon = try attributes.float("epsilon", default: 1e-5)
    stashType = try NormalizationStash.dtype(attributes)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    let a = try x.type.axis(axis)
    try NormalizationStash.expectBroadcast(
      try inputs.required(1), "scale", to: Array(x.dims[a...]), x)
    return [x.type]
  }
}

extension RMSNormalization: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(LayerNormalizationCall(rms: true, axis: try context.axis(axis), epsilon: epsilon))
  }
}

extension RMSNormalization: Tokenwise {
  /// Per token when the normalized axes all follow the token axis.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    let first = axis < 0 ? axis + rank : axis
    return reads.count == 1 && reads[0].position == 0 && reads[0].axis < first
      ? .perToken([reads[0].axis, nil]) : .notPerToken("a norm over the token axis")
  }
}
