import AttncKernels
import AttncTensor

/// attnc op: `QuantizedMatMul(A, P, b_scale, b_zero_point?, addend…)` =
/// `activation(alpha · (q(A) − a_zero)(B − b_zero) · a_scale · b_scale + addend₁ + addend₂)`,
/// the dynamically quantized linear layer in one kernel: A (float32, `[…, k]`) quantized per
/// tensor to uint8 exactly as ONNX `DynamicQuantizeLinear` does (`q(A)`, `a_scale`, `a_zero`),
/// times the constant weight B (`[k, n]`, int8, uint8 ones shifted by −128 with their zero
/// points) packed at conversion for attnc's int8 GEMM (`P`: `QuantizedGemm.packedTensor`, its
/// bytes carried in float32 elements), exact in int32, then scaled per column and finished with
/// `PackedMatMul`'s epilogue.
///
/// Made by `fuse-quantized-matmul` from what ONNX Runtime's quantizer and optimizer write:
/// `DynamicQuantizeLinear → MatMulInteger → Cast → Mul(a_scale · b_scale)`,
/// `DynamicQuantizeLinear → MatMulIntegerToFloat`, and `DynamicQuantizeMatMul`; then
/// `fuse-matmul-epilogues` adds the bias, residual and GELU. Not per token: the quantization
/// scale depends on every row.
public struct QuantizedMatMul: NamedOp {
  public static let type = "QuantizedMatMul"

  public var alpha: Float
  /// `none`, `gelu` or `geluTanh`.
  public var activation: FusedMatMul.Activation
  /// n: the product's last dim.
  public var columns: Int

  public init(alpha: Float = 1, activation: FusedMatMul.Activation = .none, columns: Int) {
    self.alpha = alpha
    self.activation = activation
    self.columns = columns
  }

  /// Inputs before the addends.
  public static let operandCount = 4

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...(QuantizedMatMul.operandCount + 2))
    let a = try inputs.required(0), packed = try inputs.required(1), scale = try inputs.required(2)
    guard a.dtype == .float, a.rank >= 1, let k = a.dims.last?.value else {
      throw AttncError.invalid("QuantizedMatMul takes float32 A with a known last dim, got \(a.type)")
    }
    let bytes = QuantizedGemm.packedBytes(k: k, n: columns)
    guard packed.dtype == .float, packed.dims == [Dim(bytes / 4)] else {
      throw AttncError.invalid("packed weight \(packed.type) does not hold [\(k), \(columns)] (\(bytes) bytes)")
    }
    guard scale.dtype == .float, scale.rank == 1, scale.dims == [Dim(1)] || scale.dims == [Dim(columns)] else {
      throw AttncError.invalid("b_scale \(scale.type) is neither one value nor one per column (\(columns))")
    }
    if let zero = inputs.optional(3), zero.dtype != .int32 || !(zero.dims == [Dim(1)] || zero.dims == [Dim(columns)]) {
      throw AttncError.invalid("b_zero_point \(zero.type) is neither one int32 nor one per column (\(columns))")
    }
    let product = TensorType(.float, Array(a.dims.dropLast()) + [Dim(columns)])
    for index in QuantizedMatMul.operandCount..<inputs.count {
      let addend = try inputs.required(index)
      guard addend.dtype == .float, PackedMatMul.rowAligned(addend.dims, product.dims) else {
        throw AttncError.invalid(
          "addend \(addend.dims.shapeDescription) is neither the product's shape \(product.dims.shapeDescription) nor a bias over its last axis")
      }
    }
    return [product]
  }
}

extension QuantizedMatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(QuantizedMatMulCall(alpha: alpha, activation: activation.rawValue, columns: columns))
  }
}
