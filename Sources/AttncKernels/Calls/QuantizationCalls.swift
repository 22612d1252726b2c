import AttncTensor

/// ONNX `QuantizeLinear` (`Quantization.quantize`).
public struct QuantizeLinearCall: KernelCall {
  public static let names = ["QuantizeLinear"]
  public let name = "QuantizeLinear"
  public var axis: Int
  public var blockSize: Int
  /// The quantized type written.
  public var to: DType
  public var saturate: Bool
  /// The type the division runs in (nil: float32).
  public var precision: DType?

  public init(axis: Int, blockSize: Int, to: DType, saturate: Bool, precision: DType?) {
    self.axis = axis
    self.blockSize = blockSize
    self.to = to
    self.saturate = saturate
    self.precision = precision
  }

  public init(name: String, parameters: KernelParameters) throws {
    let precision = try parameters.int("precision", default: 0)
    self.init(
      axis: try parameters.int("axis", default: 1), blockSize: try parameters.int("block_size", default: 0),
      to: try DType(onnx: Int32(try parameters.int("to"))), saturate: try parameters.int("saturate", default: 1) != 0,
      precision: precision == 0 ? nil : try DType(onnx: Int32(precision)))
  }

  public var parameters: [String: KernelParameter] {
    ["axis": .int(Int64(axis)), "block_size": .int(Int64(blockSize)), "to": .int(Int64(to.rawValue)),
     "saturate": saturate.parameter, "precision": .int(Int64(precision?.rawValue ?? 0))]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Quantization.quantize(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1), zeroPoint: KernelCalls.optional(inputs, 2),
      axis: axis, blockSize: blockSize, to: to, saturate: saturate, precision: precision)]
  }
}

/// ONNX `DequantizeLinear` (`Quantization.dequantize`).
public struct DequantizeLinearCall: KernelCall {
  public static let names = ["DequantizeLinear"]
  public let name = "DequantizeLinear"
  public var axis: Int
  public var blockSize: Int
  /// The float type written.
  public var to: DType

  public init(axis: Int, blockSize: Int, to: DType) {
    self.axis = axis
    self.blockSize = blockSize
    self.to = to
  }

  public init(name: String, parameters: KernelParameters) throws {
    self.init(
      axis: try parameters.int("axis", default: 1), blockSize: try parameters.int("block_size", default: 0),
      to: try DType(onnx: Int32(try parameters.int("to"))))
  }

  public var parameters: [String: KernelParameter] {
    ["axis": .int(Int64(axis)), "block_size": .int(Int64(blockSize)), "to": .int(Int64(to.rawValue))]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Quantization.dequantize(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1), zeroPoint: KernelCalls.optional(inputs, 2),
      axis: axis, blockSize: blockSize, to: to)]
  }
}

/// ONNX `DynamicQuantizeLinear` (`Quantization.dynamicQuantize`): three outputs.
public struct DynamicQuantizeLinearCall: KernelCall {
  public static let names = ["DynamicQuantizeLinear"]
  public let name = "DynamicQuantizeLinear"
  public init() {}
  public init(name: String, parameters: KernelParameters) throws {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    try Quantization.dynamicQuantize(KernelCalls.input(inputs, 0))
  }
}
