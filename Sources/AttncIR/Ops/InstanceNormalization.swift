import AttncKernels
import AttncTensor

/// `InstanceNormalization(input, scale, B)`: each (item, channel) normalised over its spatial
/// axes, `Y = (X − mean) / √(var + epsilon) · scale[c] + B[c]` (epsilon default 1e-5, biased
/// variance). `X [N, C, D…]` of rank ≥ 3; `scale` and `B` are `[C]`. Torch writes `GroupNorm`
/// with one channel per group this way (Wav2Vec2's first feature-extractor layer).
public struct InstanceNormalization: AttributedOp {
  public var epsilon: Float

  public init(attributes: Attributes, opset: Int) throws { epsilon = try attributes.float("epsilon", default: 1e-5) }

  /// Y has X's type.
  /// - Throws: "input 'input' must have rank ≥ 3, got rank 2"; "channels of input and 'B' differ: 4 and 3".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("input")
    guard x.rank >= 3 else { throw AttncError.invalid("input 'input' must have rank ≥ 3, got rank \(x.rank)") }
    var channels = x.dims[1]
    for (index, name) in [(1, "scale"), (2, "B")] {
      let fact = try inputs.required(index)
      try fact.expectFloatingPoint(name)
      try fact.expectRank(1, name)
      channels = try DimCheck.unify(channels, fact.dims[0], "channels of input and '\(name)'")
    }
    return [x.type]
  }
}

extension InstanceNormalization: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(InstanceNormalizationCall(epsilon: epsilon))
  }
}
