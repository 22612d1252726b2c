import AttncKernels
import AttncTensor

/// `QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point)`
/// (opset 10): `y = saturate(round((a − a_zero)(b − b_zero) · a_scale · b_scale / y_scale) +
/// y_zero)`, rounding half to even, numpy batch broadcasting. a, b and y are int8 or uint8; a's
/// scale and zero point are per tensor or per row, b's per tensor or per column, y's per tensor.
/// The product is exact (`MatMulInteger`'s kernel); the multiplier is computed in the scales'
/// type and applied in float64, as the ONNX reference does. Opset 21's float8 operands are
/// refused.
public struct QLinearMatMul: AttributelessOp {
  public init() {}

  /// - Throws: operands that are not 8-bit integers, zero points of another type, shapes that
  ///   do not multiply, a constant scale that is 0, NaN or infinite.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(8...8)
    let a = try inputs.required(0), b = try inputs.required(3), yZero = try inputs.required(7)
    try IntegerOperands.expect8Bit(a, "a", zero: try inputs.required(2), "a_zero_point")
    try IntegerOperands.expect8Bit(b, "b", zero: try inputs.required(5), "b_zero_point")
    guard yZero.dtype == .int8 || yZero.dtype == .uint8 else {
      throw AttncError.invalid("y_zero_point must be int8 or uint8, got \(yZero.dtype)")
    }
    for index in [1, 4, 6] {
      let scale = try inputs.required(index)
      guard scale.dtype.isFloatingPoint else { throw AttncError.invalid("scale input \(index) must be a float type") }
      try QuantizationCheck.constantScale(scale, dividing: index == 6)
    }
    return [TensorType(yZero.dtype, try MatMul.productDims(a, b))]
  }
}

extension QLinearMatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(QLinearMatMulCall()) }
}
