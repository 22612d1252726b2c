import AttncTensor

/// `Softmax` along `axis` (already normalized); `coerce2D` for opset < 13's flattening.
public struct SoftmaxCall: KernelCall {
  public static let names = ["Softmax"]
  public let name = "Softmax"
  public var axis: Int
  public var coerce2D: Bool

  public init(axis: Int, coerce2D: Bool) {
    self.axis = axis
    self.coerce2D = coerce2D
  }

  public init(name: String, parameters: KernelParameters) throws {
    self.init(axis: try parameters.int("axis"), coerce2D: try parameters.int("coerce2d", default: 0) != 0)
  }

  public var parameters: [String: KernelParameter] { ["axis": .int(Int64(axis)), "coerce2d": coerce2D.parameter] }
  public var memory: KernelMemory { KernelMemory(outputs: [0], inPlace: [0]) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    if let narrow = NarrowFloatArithmetic(x.dtype) { return [try narrow.softmax(x, axis: axis, coerce2D: coerce2D)] }
    return [try LinearAlgebra.softmax(x, axis: axis, coerce2D: coerce2D, output: context.output(0))]
  }
}

/// `LayerNormalization` or `RMSNormalization` over the axes from `axis` on (normalized).
public struct LayerNormalizationCall: KernelCall {
  public static let names = ["LayerNormalization", "RMSNormalization"]
  public var rms: Bool
  public var axis: Int
  public var epsilon: Float

  public init(rms: Bool, axis: Int, epsilon: Float) {
    self.rms = rms
    self.axis = axis
    self.epsilon = epsilon
  }

  public init(name: String, parameters: KernelParameters) throws {
    self.init(rms: name == "RMSNormalization", axis: try parameters.int("axis"), epsilon: try parameters.float("epsilon"))
  }

  public var name: String { rms ? "RMSNormalization" : "LayerNormalization" }
  public var parameters: [String: KernelParameter] { ["axis": .int(Int64(axis)), "epsilon": .float(Double(epsilon))] }
  public var memory: KernelMemory { KernelMemory(outputs: [0], inPlace: [0]) }

  /// Outputs: y, and for LayerNormalization with more than one output, mean and inverse
  /// standard deviation.
  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    try LinearAlgebra.layerNorm(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1),
      bias: rms ? nil : KernelCalls.optional(inputs, 2), axis: axis, epsilon: epsilon, rms: rms,
      statistics: !rms && context.outputCount > 1, output: context.output(0))
  }
}

/// `BatchNormalization` in inference form, or training form with running statistics.
public struct BatchNormalizationCall: KernelCall {
  public static let names = ["BatchNormalization"]
  public let name = "BatchNormalization"
  public var epsilon: Float
  public var momentum: Float
  public var training: Bool

  public init(epsilon: Float, momentum: Float, training: Bool) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.training = training
  }

  public init(name: String, parameters: KernelParameters) throws {
    self.init(
      epsilon: try parameters.float("epsilon"), momentum: try parameters.float("momentum"),
      training: try parameters.int("training", default: 0) != 0)
  }

  public var parameters: [String: KernelParameter] {
    ["epsilon": .float(Double(epsilon)), "momentum": .float(Double(momentum)), "training": training.parameter]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0), scale = try KernelCalls.input(inputs, 1), bias = try KernelCalls.input(inputs, 2)
    let mean = try KernelCalls.input(inputs, 3), variance = try KernelCalls.input(inputs, 4)
    if training {
      return try ChannelNormalization.training(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon, momentum: momentum)
    }
    return [try ChannelNormalization.inference(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)]
  }
}
