import AttncKernels
import AttncTensor

/// `MatMulInteger(A, B, a_zero_point?, b_zero_point?)` (opset 10): `Y = (A − a_zero_point) ·
/// (B − b_zero_point)` as int32, with numpy batch broadcasting. A and B are int8 or uint8 (each
/// its own), each zero point of its matrix's type: a scalar, one per row of A (`[M]` or
/// `[…, M, 1]`) or one per column of B (`[N]` or `[…, 1, N]`). The sums are exact, wrapping past
/// 32 bits as the ONNX definition allows. Products run on attnc's int8 GEMM
/// (`attnc_quantized_gemm.h`); in the dynamically quantized linear layer ONNX Runtime's
/// quantizer writes, `fuse-quantized-matmul` replaces the node, its scaling and its bias by one
/// `QuantizedMatMul`.
public struct MatMulInteger: AttributelessOp {
  public init() {}

  /// - Throws: operands that are not 8-bit integers, zero points of another type, shapes that
  ///   do not multiply.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...4)
    return [TensorType(.int32, try IntegerOperands.productDims(inputs, aZero: 2, bZero: 3))]
  }
}

extension MatMulInteger: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(MatMulIntegerCall()) }
}

/// Type checks shared by the integer products.
enum IntegerOperands {
  /// The product dims of 8-bit A (input 0) and B (input 1) with their zero points at inputs
  /// `aZero` and `bZero`.
  /// - Throws: as `expect8Bit` and `MatMul.productDims`.
  static func productDims(_ inputs: [ValueFact?], aZero: Int, bZero: Int) throws -> [Dim] {
    let a = try inputs.required(0), b = try inputs.required(1)
    try expect8Bit(a, "A", zero: inputs.optional(aZero), "a_zero_point")
    try expect8Bit(b, "B", zero: inputs.optional(bZero), "b_zero_point")
    return try MatMul.productDims(a, b)
  }

  /// Throws unless `x` is int8 or uint8 and `zero`, when given, has its type.
  /// - Throws: "input 'A' must be int8 or uint8, got int16", "a_zero_point is int8 but A is
  ///   uint8".
  static func expect8Bit(_ x: ValueFact, _ name: String, zero: ValueFact?, _ zeroName: String) throws {
    guard x.dtype == .int8 || x.dtype == .uint8 else {
      throw AttncError.invalid("input '\(name)' must be int8 or uint8, got \(x.dtype)")
    }
    if let zero, zero.dtype != x.dtype {
      throw AttncError.invalid("\(zeroName) is \(zero.dtype) but \(name) is \(x.dtype)")
    }
  }
}
