import AttncTensor

/// `LayerNormalization(X, Scale, B?)` over the axes from `axis` (default -1) on:
/// `Y = (X - mean) / sqrt(var + epsilon) · Scale + B`; optional outputs Mean and InvStdDev keep the
/// leading dims and have size 1 on the normalised axes (float32 by `stash_type`).
public struct LayerNormalization: Op {
  public var axis: Int
  public var epsilon: Float

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: -1)
    epsilon = try attributes.float("epsilon", default: 1e-5)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    let a = try x.type.axis(axis)
    let stats = TensorType(.float, Array(x.dims[..<a]) + [Dim](repeating: 1, count: x.rank - a))
    return [x.type, stats, stats]
  }
}

/// `RMSNormalization(X, scale)` (opset 23): `Y = X / sqrt(mean(X²) + epsilon) · scale` over the
/// axes from `axis` (default -1) on.
public struct RMSNormalization: Op {
  public var axis: Int
  public var epsilon: Float

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: -1)
    epsilon = try attributes.float("epsilon", default: 1e-5)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    _ = try x.type.axis(axis)
    return [x.type]
  }
}

/// `BatchNormalization(X, scale, B, mean, var)` in inference mode:
/// `Y = (X - mean) / sqrt(var + epsilon) · scale + B` per channel (axis 1). In training mode
/// (opset 14+ `training_mode=1`) it also returns the running mean and variance.
public struct BatchNormalization: Op {
  public var epsilon: Float
  public var momentum: Float
  public var trainingMode: Bool

  public init(attributes: Attributes, opset: Int) throws {
    epsilon = try attributes.float("epsilon", default: 1e-5)
    momentum = try attributes.float("momentum", default: 0.9)
    trainingMode = try attributes.int("training_mode", default: 0) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(5...5)
    let x = try inputs.required(0)
    guard x.rank >= 2 else { throw AttncError.invalid("X must have rank ≥ 2, got \(x.rank)") }
    let mean = try inputs.required(3)
    let variance = try inputs.required(4)
    return [x.type, mean.type, variance.type]
  }
}
