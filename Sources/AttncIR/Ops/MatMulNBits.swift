import AttncKernels
import AttncTensor

/// ONNX Runtime contrib op `com.microsoft.MatMulNBits(A, B, scales, zero_points?, g_idx?,
/// bias?)`: `Y = A × W + bias` with the `[K, N]` weight W stored block-quantized along K
/// (`BlockQuantizedWeights`: `bits` 2, 4 or 8, `block_size` a power of two ≥ 16, a scale and zero
/// point per block, zero points packed uint8 or floats, default `2^(bits−1)`). `accuracy_level`
/// is ignored (attnc computes in float32, the most accurate level). `expand-matmul-nbits`
/// dequantizes a constant weight at conversion into a `MatMul` (plus the bias `Add`), so the
/// product runs on the packed float32 GEMM with its epilogue; this op's own kernel dequantizes
/// per call. A prepacked B (`weight_prepacked`) and the omitted-projection form (B with a dim of
/// 0) are refused.
public struct MatMulNBits: AttributedOp {
  public var layout: BlockQuantizedWeights.Layout

  /// Reads K, N, bits (default 4) and block_size.
  /// - Throws: missing K, N or block_size; bits or block_size outside what the kernel reads; a
  ///   prepacked weight.
  public init(attributes: Attributes, opset: Int) throws {
    guard let k = try attributes.int("K"), let n = try attributes.int("N"), let block = try attributes.int("block_size")
    else { throw AttncError.invalid("attributes 'K', 'N' and 'block_size' are required") }
    layout = .init(k: k, n: n, bits: try attributes.int("bits", default: 4), blockSize: block)
    try layout.validate()
    let prepacked = try attributes.int("weight_prepacked", default: 0)
    guard prepacked == 0 else {
      throw AttncError.unsupported("weight_prepacked \(prepacked) is a CUDA layout; attnc reads unpacked weights")
    }
  }

  /// - Throws: A whose last dim is not K, B or scales or zero points of other shapes or types.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...6)
    let a = try inputs.required(0), b = try inputs.required(1), scales = try inputs.required(2)
    guard a.dtype == .float, a.rank >= 1 else { throw AttncError.invalid("input 'A' must be float32 of rank ≥ 1, got \(a.type)") }
    _ = try DimCheck.unify(a.dims[a.rank - 1], Dim(layout.k), "A's last dim and K")
    let blob = [Dim(layout.n), Dim(layout.blocks), Dim(layout.blobBytes)]
    guard b.dtype == .uint8, b.dims == blob else {
      throw AttncError.invalid("B \(b.type) is not uint8 \(blob.shapeDescription) (N, blocks, bytes per block)")
    }
    guard scales.dtype == .float, scales.type.concreteDims?.reduce(1, *) == layout.n * layout.blocks else {
      throw AttncError.invalid("scales \(scales.type) are not \(layout.n) × \(layout.blocks) float32 values")
    }
    try QuantizationCheck.constantScale(scales, dividing: false)
    if let bias = inputs.optional(5) {
      guard bias.dtype == .float, bias.dims == [Dim(layout.n)] else {
        throw AttncError.invalid("bias \(bias.type) is not float32 [\(layout.n)]")
      }
    }
    return [TensorType(.float, Array(a.dims.dropLast()) + [Dim(layout.n)])]
  }
}

extension MatMulNBits: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(MatMulNBitsCall(layout: layout)) }
}
