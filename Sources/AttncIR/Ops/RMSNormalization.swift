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
