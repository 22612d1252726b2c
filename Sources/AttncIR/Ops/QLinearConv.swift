import AttncKernels
import AttncTensor

/// `QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B?)`
/// (opset 10): `ConvInteger` of x and w plus the int32 bias B, requantized per output channel:
/// `y = saturate(round(acc · x_scale · w_scale[m] / y_scale) + y_zero_point)`, rounding half to
/// even. x, w and y are int8 or uint8; x and y have scalar scales and zero points, w scalar or
/// per output channel ones. The attributes, shapes and padding are `Conv`'s.
public struct QLinearConv: AttributedOp {
  /// The convolution's attributes and shape rule.
  public var conv: Conv

  public init(attributes: Attributes, opset: Int) throws { conv = try Conv(attributes: attributes, opset: opset) }

  /// - Throws: operands that are not 8-bit integers, a bias that is not int32, zero points of
  ///   another type, a constant y_scale of 0, the shape errors of `Conv`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(8...9)
    let x = try inputs.required(0), w = try inputs.required(3), yZero = try inputs.required(7)
    try IntegerOperands.expect8Bit(x, "x", zero: try inputs.required(2), "x_zero_point")
    try IntegerOperands.expect8Bit(w, "w", zero: try inputs.required(5), "w_zero_point")
    try IntegerOperands.expect8Bit(yZero, "y_zero_point", zero: nil, "")
    let bias = inputs.optional(8)
    if let bias, bias.dtype != .int32 { throw AttncError.invalid("input 'B' must be int32, got \(bias.dtype)") }
    for index in [1, 4, 6] {
      let scale = try inputs.required(index)
      guard scale.dtype.isFloatingPoint else { throw AttncError.invalid("scale input \(index) must be a float type") }
      try QuantizationCheck.constantScale(scale, dividing: index == 6)
    }
    return [TensorType(yZero.dtype, try conv.outputDims(x, w, bias: bias))]
  }
}

extension QLinearConv: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    try conv.geometry.lowering(context, weight: 3, beginPads: conv.beginPads, .qlinear)
  }
}
