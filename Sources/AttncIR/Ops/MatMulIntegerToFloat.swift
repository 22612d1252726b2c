import AttncKernels
import AttncTensor

/// ONNX Runtime contrib op `com.microsoft.MatMulIntegerToFloat(A, B, a_scale, b_scale,
/// a_zero_point?, b_zero_point?, bias?)`: `Y = (A − a_zero)(B − b_zero) · a_scale · b_scale +
/// bias`, float32, numpy batch broadcasting. A and B are int8 or uint8; A's scale and zero point
/// are one value (ONNX Runtime's CPU kernel refuses per-column ones too), B's one value or one
/// per column; bias has B's column count. ONNX Runtime's graph optimizer writes it for the
/// dynamically quantized linear layer (after `DynamicQuantizeLinear`); `fuse-quantized-matmul`
/// then turns it into one `QuantizedMatMul` on a packed weight.
public struct MatMulIntegerToFloat: AttributelessOp {
  public init() {}

  /// - Throws: operands that are not 8-bit integers, zero points of another type, shapes that
  ///   do not multiply, scales that are not float32, a constant B scale that is NaN or infinite.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(4...7)
    let dims = try IntegerOperands.productDims(inputs, aZero: 4, bZero: 5)
    for index in [2, 3] {
      let scale = try inputs.required(index)
      guard scale.dtype == .float else { throw AttncError.invalid("scale input \(index) must be float32, got \(scale.dtype)") }
    }
    try QuantizationCheck.constantScale(try inputs.required(3), dividing: false)
    if let bias = inputs.optional(6) { try bias.expectRank(1, "bias") }
    return [TensorType(.float, dims)]
  }
}

extension MatMulIntegerToFloat: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(MatMulIntegerToFloatCall()) }
}
