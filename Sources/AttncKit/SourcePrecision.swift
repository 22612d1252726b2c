import AttncIR
import AttncPasses
import AttncTensor

/// What a model computes in when it is not float32, as a plan records it
/// (`Plan.sourcePrecision`) for the parity rule.
public enum SourcePrecision {
  /// Op types that mark a quantized graph (ONNX and ONNX Runtime's contrib quantization ops).
  static let quantizationOps: Set<String> = [
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger",
    "QLinearMatMul", "QLinearConv", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention",
    "QGemm", "MatMulNBits", "QOrderedMatMul", "QLinearAdd", "QLinearMul",
  ]

  /// `int8` for a quantized graph, else the narrow float types it computes in (`float16`,
  /// `bfloat16`, joined by `+` when both), else empty (float32).
  public static func of(_ imported: Graph) -> String {
    if imported.nodes.contains(where: { quantizationOps.contains($0.opType) }) { return "int8" }
    return WidenNarrowFloats.narrowTypes(in: imported).map(\.description).joined(separator: "+")
  }
}
