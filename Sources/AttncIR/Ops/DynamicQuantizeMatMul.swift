import AttncKernels
import AttncTensor

/// ONNX Runtime contrib op `com.microsoft.DynamicQuantizeMatMul(A, B, b_scale, b_zero_point?,
/// bias?)`: A (float32) quantized per tensor to uint8 as `DynamicQuantizeLinear` does, then
/// `MatMulIntegerToFloat` with B (int8 or uint8), its scale and zero point (one value or one per
/// column) and the bias. ONNX Runtime's graph optimizer writes it; `fuse-quantized-matmul`
/// turns one on a constant B into `QuantizedMatMul` (the same arithmetic on a packed weight).
public struct DynamicQuantizeMatMul: AttributelessOp {
  public init() {}

  /// - Throws: A that is not float32, B that is not an 8-bit integer, a zero point of another
  ///   type, shapes that do not multiply, a constant scale that is NaN or infinite.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...5)
    let a = try inputs.required(0), b = try inputs.required(1), scale = try inputs.required(2)
    guard a.dtype == .float else { throw AttncError.invalid("input 'A' must be float32, got \(a.dtype)") }
    try IntegerOperands.expect8Bit(b, "B", zero: inputs.optional(3), "b_zero_point")
    guard scale.dtype == .float else { throw AttncError.invalid("b_scale must be float32, got \(scale.dtype)") }
    try QuantizationCheck.constantScale(scale, dividing: false)
    if let bias = inputs.optional(4) { try bias.expectRank(1, "bias") }
    return [TensorType(.float, try MatMul.productDims(a, b))]
  }
}

extension DynamicQuantizeMatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(DynamicQuantizeMatMulCall()) }
}
