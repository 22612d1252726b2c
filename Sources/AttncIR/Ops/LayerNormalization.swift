import AttncKernels
import AttncTensor

/// `LayerNormalization(X, Scale, B?)` (opset 17) over the trailing axes from `axis` (default -1):
/// `Y = (X - mean) / sqrt(var + epsilon) · Scale + B`, mean and variance taken over those axes;
/// with `rms`, `RMSNormalization(X, scale)` (opset 23): `Y = X / sqrt(mean(X²) + epsilon) · scale`.
///
/// `Scale` and `B` broadcast one way to `X`'s normalised dims `X.dims[axis...]`. LayerNorm's
/// optional outputs `Mean` and `InvStdDev` keep the leading dims and have size 1 on the
/// normalised axes; their type is `stash_type` (default 1, float32), which for RMSNorm is the
/// precision of the mean of squares.
public struct LayerNormalization: AttributedOp {
  /// `RMSNormalization`: no mean subtracted, no bias, no statistics outputs.
  public var rms: Bool
  public var axis: Int
  public var epsilon: Float
  /// Element type of the `Mean` and `InvStdDev` outputs.
  public var stashType: DType

  public init(attributes: Attributes, opset: Int) throws {
    try self.init(rms: false, attributes: attributes)
  }

  /// The RMS form, as the registry builds it (`RMSNormalization`, and ONNX Runtime's
  /// `SimplifiedLayerNormalization`).
  @Sendable static func rms(attributes: Attributes, opset: Int) throws -> any Op {
    try LayerNormalization(rms: true, attributes: attributes)
  }

  public init(rms: Bool, attributes: Attributes) throws {
    self.rms = rms
    axis = try attributes.int("axis", default: -1)
    epsilon = try attributes.float("epsilon", default: 1e-5)
    stashType = try NormalizationStash.dtype(attributes)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(rms ? 2...2 : 2...3)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    let a = try x.type.axis(axis)
    let normalized = Array(x.dims[a...])
    try NormalizationStash.expectBroadcast(try inputs.required(1), rms ? "scale" : "Scale", to: normalized, x)
    if rms { return [x.type] }
    if let b = inputs.optional(2) {
      try NormalizationStash.expectBroadcast(b, "B", to: normalized, x)
    }
    let stats = TensorType(stashType, Array(x.dims[..<a]) + [Dim](repeating: 1, count: x.rank - a))
    return [x.type, stats, stats]
  }
}

/// Checks of `LayerNormalization`'s attributes and inputs.
enum NormalizationStash {
  /// The `stash_type` attribute (default float32).
  /// - Throws: "attribute 'stash_type' must name a floating-point type, got 7".
  static func dtype(_ attributes: Attributes) throws -> DType {
    let raw = try attributes.int("stash_type", default: 1)
    guard let dtype = DType(rawValue: Int32(clamping: raw)), dtype.isFloatingPoint else {
      throw AttncError.invalid("attribute 'stash_type' must name a floating-point type, got \(raw)")
    }
    return dtype
  }

  /// Throws unless `fact` has X's type and broadcasts one way to `normalized`.
  /// - Throws: "input 'Scale' of shape [3] does not broadcast to the normalised dims [4]".
  static func expectBroadcast(
    _ fact: ValueFact, _ name: String, to normalized: [Dim], _ x: ValueFact
  ) throws {
    try fact.expectSameType(as: x, name, "X")
    let message = AttncError.invalid(
      "input '\(name)' of shape \(fact.dims.shapeDescription) does not broadcast to the "
        + "normalised dims \(normalized.shapeDescription)")
    guard fact.rank <= normalized.count else { throw message }
    guard let result = try? Shapes.broadcast([normalized, fact.dims]), result == normalized else {
      throw message
    }
  }
}

extension LayerNormalization: Lowerable {
  /// The mean and inverse standard deviation outputs are computed only when something reads them.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let statistics = !rms && (context.isConsumed(1) || context.isConsumed(2))
    return Lowering(
      LayerNormalizationCall(rms: rms, axis: try context.axis(axis), epsilon: epsilon), usedOutputs: statistics ? nil : 1)
  }
}

extension LayerNormalization: Tokenwise {
  /// Per token (output 0) when the normalized axes all follow the token axis.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    let first = axis < 0 ? axis + rank : axis
    return reads.count == 1 && reads[0].position == 0 && reads[0].axis < first
      ? .perToken([reads[0].axis, nil, nil]) : .notPerToken("a norm over the token axis")
  }
}
