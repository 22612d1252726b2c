import AttncTensor

/// ONNX `QuantizeLinear` (`Quantization.quantize`).
public struct QuantizeLinearCall: CodableKernelCall {
  public var axis: Int
  public var blockSize: Int
  /// The quantized type written.
  public var to: DType
  public var saturate: Bool
  /// The type the division runs in (nil: float32).
  public var precision: DType?
  enum CodingKeys: String, CodingKey { case axis, blockSize = "block_size", to, saturate, precision }

  public init(axis: Int, blockSize: Int, to: DType, saturate: Bool, precision: DType?) {
    (self.axis, self.blockSize, self.to, self.saturate, self.precision) = (axis, blockSize, to, saturate, precision)
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Quantization.quantize(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1), zeroPoint: KernelCalls.optional(inputs, 2),
      axis: axis, blockSize: blockSize, to: to, saturate: saturate, precision: precision)]
  }
}

/// ONNX `DequantizeLinear` (`Quantization.dequantize`).
public struct DequantizeLinearCall: CodableKernelCall {
  public var axis: Int
  public var blockSize: Int
  /// The float type written.
  public var to: DType
  enum CodingKeys: String, CodingKey { case axis, blockSize = "block_size", to }

  public init(axis: Int, blockSize: Int, to: DType) { (self.axis, self.blockSize, self.to) = (axis, blockSize, to) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Quantization.dequantize(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1), zeroPoint: KernelCalls.optional(inputs, 2),
      axis: axis, blockSize: blockSize, to: to)]
  }
}

/// ONNX `DynamicQuantizeLinear` (`Quantization.dynamicQuantize`): three outputs.
public struct DynamicQuantizeLinearCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    try Quantization.dynamicQuantize(KernelCalls.input(inputs, 0))
  }
}
