import AttncKernels
import AttncTensor

/// `BatchNormalization(X, scale, B, input_mean, input_var)` per channel (axis 1):
/// `Y = (X - mean) / sqrt(var + epsilon) · scale + B` (epsilon default 1e-5).
///
/// Inference mode uses the given mean and variance. In training mode (`training_mode = 1` from
/// opset 14; before that, a node with more than one output) the batch statistics are used and the
/// extra outputs are the running mean and variance (`[C]`; opsets 9–13 add saved mean and
/// variance). `X [N, C, D…]`; the four statistics inputs are `[C]`. Opsets 7–8 need `spatial = 1`.
public struct BatchNormalization: AttributedOp {
  public var epsilon: Float
  public var momentum: Float
  public var trainingMode: Bool
  /// Number of outputs the opset defines (3 from opset 14, 5 before).
  public var maximumOutputs: Int

  public init(attributes: Attributes, opset: Int) throws {
    epsilon = try attributes.float("epsilon", default: 1e-5)
    momentum = try attributes.float("momentum", default: 0.9)
    trainingMode = try attributes.int("training_mode", default: 0) != 0
    maximumOutputs = opset >= 14 ? 3 : 5
    if opset < 9, try attributes.int("spatial", default: 1) == 0 {
      throw AttncError.unsupported("BatchNormalization with spatial=0 is not supported")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(5...5)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    guard x.rank >= 2 else {
      throw AttncError.invalid("input 'X' must have rank ≥ 2, got rank \(x.rank)")
    }
    guard outputCount <= maximumOutputs else {
      throw AttncError.invalid("has \(outputCount) outputs, at most \(maximumOutputs) allowed")
    }
    var channels = x.dims[1]
    for (index, name) in [(1, "scale"), (2, "B"), (3, "input_mean"), (4, "input_var")] {
      let fact = try inputs.required(index)
      try fact.expectFloatingPoint(name)
      try fact.expectRank(1, name)
      channels = try DimCheck.unify(channels, fact.dims[0], "channels of X and '\(name)'")
    }
    let statistics = TensorType(try inputs.required(3).dtype, [channels])
    return [x.type] + [TensorType](repeating: statistics, count: maximumOutputs - 1)
  }
}

extension BatchNormalization: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let training = trainingMode || (maximumOutputs > 3 && context.outputs.count > 1)
    return Lowering(
      BatchNormalizationCall(epsilon: epsilon, momentum: momentum, training: training), usedOutputs: training ? nil : 1)
  }
}
