import AttncKernels
import AttncTensor

/// `DequantizeLinear(x, x_scale, x_zero_point?)`: `y = (x − x_zero_point) · x_scale`, computed in
/// float32 and stored as `output_dtype` (opset 23) or else the scale's type (float32 before
/// opset 19).
///
/// x is int8 or uint8 (opset 10), int32 (no zero point), int16, uint16, int4, uint4 (21), int2,
/// uint2 (25), an 8-bit float (19) or float4e2m1 (23). Scale and zero point are per tensor, per
/// axis (opset 13) or per block (`block_size`, opset 21), as in `QuantizeLinear`. A constant
/// scale that is NaN or infinite is refused. Weights stored this way fold to float constants at
/// conversion.
public struct DequantizeLinear: AttributedOp {
  public var layout: QuantizationLayout
  public var axis: Int { layout.axis }

  public init(attributes: Attributes, opset: Int) throws {
    layout = try QuantizationLayout(attributes: attributes, opset: opset)
    if let outputDType = layout.outputDType, !outputDType.isFloatingPoint || NarrowFloat.covers(outputDType) {
      throw AttncError.invalid("attribute 'output_dtype' must be float32, float16 or bfloat16, got \(outputDType)")
    }
  }

  /// - Throws: x of a type that is not quantized, a zero point of another type, a zero point on
  ///   int32, a scale or zero point that does not fit.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0), scale = try inputs.required(1), zero = inputs.optional(2)
    guard Quantization.isQuantizedType(x.dtype) || x.dtype == .int32 else {
      throw AttncError.invalid("input 'x' must be a quantized type, got \(x.dtype)")
    }
    if let zero, zero.dtype != x.dtype {
      throw AttncError.invalid("x_zero_point is \(zero.dtype) but x is \(x.dtype)")
    }
    if let zero, x.dtype == .int32, zero.constant.map({ $0.int64s().contains { $0 != 0 } }) ?? true {
      throw AttncError.invalid("int32 x takes no zero point (it is 0)")
    }
    guard scale.dtype.isFloatingPoint else { throw AttncError.invalid("x_scale must be a float type, got \(scale.dtype)") }
    try layout.check(x: x, scale: scale, zero: zero, dividing: false)
    return [TensorType(outputType(scale), x.dims)]
  }

  /// `output_dtype`, else the scale's float type (float8e8m0 scales give float32).
  func outputType(_ scale: ValueFact) -> DType {
    if let outputDType = layout.outputDType { return outputDType }
    if layout.opset < 19 || NarrowFloat.covers(scale.dtype) { return .float }
    return scale.dtype
  }
}

extension DequantizeLinear: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let output = context.outputs.first ?? nil else { return nil }
    return Lowering(DequantizeLinearCall(axis: layout.axis, blockSize: layout.blockSize, to: output.dtype))
  }
}
