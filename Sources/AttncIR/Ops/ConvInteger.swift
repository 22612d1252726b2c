import AttncKernels
import AttncTensor

/// `ConvInteger(x, w, x_zero_point?, w_zero_point?)` (opset 10): `Conv` of `x − x_zero_point`
/// (a scalar) with `w − w_zero_point` (a scalar or one per output channel) as int32, padding
/// with differences of 0. x and w are int8 or uint8; the attributes, shapes and padding are
/// `Conv`'s. Each group runs as one exact integer product on attnc's int8 GEMM.
public struct ConvInteger: AttributedOp {
  /// The convolution's attributes and shape rule.
  public var conv: Conv

  public init(attributes: Attributes, opset: Int) throws { conv = try Conv(attributes: attributes, opset: opset) }

  /// - Throws: operands that are not 8-bit integers, zero points of another type, the shape
  ///   errors of `Conv`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...4)
    let x = try inputs.required(0), w = try inputs.required(1)
    try IntegerOperands.expect8Bit(x, "x", zero: inputs.optional(2), "x_zero_point")
    try IntegerOperands.expect8Bit(w, "w", zero: inputs.optional(3), "w_zero_point")
    return [TensorType(.int32, try conv.outputDims(x, w, bias: nil))]
  }
}

extension ConvInteger: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    try conv.geometry.lowering(context, beginPads: conv.beginPads, .integer)
  }
}
