import AttncKernels
import AttncTensor

/// `DynamicQuantizeLinear(x)` (opset 11) → `(y, y_scale, y_zero_point)`: x (float32) quantized
/// per tensor to uint8 with parameters from its own range, widened to include 0:
/// `y_scale = (max − min) / 255`, `y_zero_point = round(clamp(−min / y_scale, 0, 255))`,
/// `y = saturate(round(x / y_scale) + y_zero_point)`, rounding half to even. NaN elements are
/// skipped by the range and quantize to 0; an all-zero x gives scale 1 and zero point 0 (as
/// ONNX Runtime; the ONNX formula would divide by zero).
public struct DynamicQuantizeLinear: AttributelessOp {
  public init() {}

  /// - Throws: "input 'x' must be float32, got float16".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    guard x.dtype == .float else { throw AttncError.invalid("input 'x' must be float32, got \(x.dtype)") }
    return [TensorType(.uint8, x.dims), TensorType(.float, []), TensorType(.uint8, [])]
  }
}

extension DynamicQuantizeLinear: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(DynamicQuantizeLinearCall()) }
}
