import AttncKernels
import AttncTensor

/// ONNX Runtime contrib ops `com.microsoft.SkipLayerNormalization(input, skip, gamma, beta?,
/// bias?)` and `SkipSimplifiedLayerNormalization(input, skip, gamma, bias?)`: LayerNorm (or
/// RMSNorm) over the last axis of the residual sum `input + skip + bias`, the form ONNX Runtime's
/// transformers optimizer fuses every residual add and norm into. Outputs: the normalized
/// value, then optionally the row mean and inverse standard deviation (`[…, 1]`) and the sum.
public struct SkipLayerNormalization: Op {
  public static let domain = "com.microsoft"

  /// `SkipSimplifiedLayerNormalization` (RMSNorm, no beta).
  public var rms: Bool
  public var epsilon: Float

  public init(rms: Bool, attributes: Attributes) throws {
    self.rms = rms
    epsilon = try attributes.float("epsilon", default: 1e-12)
  }

  /// input and skip `[…, hidden]` of one float type (skip may be `[hidden]`-broadcast), gamma,
  /// beta and bias `[hidden]`.
  /// - Throws: "expects 3 to 5 inputs, got 2", "gamma [8] does not match hidden size 4".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(rms ? 3...4 : 3...5)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("input")
    guard x.rank >= 1, outputCount <= 4 else {
      throw AttncError.invalid("needs an input of rank ≥ 1 and at most 4 outputs")
    }
    let hidden = x.dims[x.rank - 1]
    let skip = try inputs.required(1)
    guard skip.dtype == x.dtype, try Shapes.broadcast([x.dims, skip.dims]) == x.dims else {
      throw AttncError.invalid("skip \(skip.dims.shapeDescription) does not broadcast into input \(x.dims.shapeDescription)")
    }
    let names: [String] = rms ? ["gamma", "bias"] : ["gamma", "beta", "bias"]
    for (index, name) in names.enumerated() {
      guard let vector = inputs.optional(index + 2) else { continue }
      guard vector.dtype == x.dtype, vector.rank == 1, vector.dims[0] == hidden || vector.dims[0].value == nil || hidden.value == nil else {
        throw AttncError.invalid("\(name) \(vector.dims.shapeDescription) does not match hidden size \(hidden)")
      }
    }
    let statistics = TensorType(x.dtype, Array(x.dims.dropLast()) + [Dim(1)])
    return Array([x.type, statistics, statistics, x.type].prefix(max(outputCount, 1)))
  }
}

extension SkipLayerNormalization: Lowerable {
  /// Only the outputs something reads are computed (a prefix up to the last one read).
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let used = (0..<4).last(where: context.isConsumed).map { $0 + 1 } ?? 1
    return Lowering(SkipNormalizationCall(rms: rms, epsilon: epsilon), usedOutputs: used)
  }
}
