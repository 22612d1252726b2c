import AttncTensor

/// `Softmax` along `axis` (already normalized); `coerce2D` for opset < 13's flattening.
public struct SoftmaxCall: CodableKernelCall {
  public var axis: Int
  public var coerce2D: Bool
  enum CodingKeys: String, CodingKey { case axis, coerce2D = "coerce2d" }

  public init(axis: Int, coerce2D: Bool) { (self.axis, self.coerce2D) = (axis, coerce2D) }

  public var memory: KernelMemory { KernelMemory(outputs: [0], inPlace: [0]) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    if let narrow = NarrowFloatArithmetic(x.dtype) { return [try narrow.softmax(x, axis: axis, coerce2D: coerce2D)] }
    return [try LinearAlgebra.softmax(x, axis: axis, coerce2D: coerce2D, output: context.output(0))]
  }
}

/// `LayerNormalization` or `RMSNormalization` over the axes from `axis` on (normalized).
public struct LayerNormalizationCall: CodableKernelCall {
  public static let names = ["LayerNormalization", "RMSNormalization"]
  public var name: String
  public var axis: Int
  public var epsilon: Float

  public init(rms: Bool, axis: Int, epsilon: Float) {
    name = Self.names[rms ? 1 : 0]
    self.axis = axis
    self.epsilon = epsilon
  }

  public var rms: Bool { name == "RMSNormalization" }
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
public struct BatchNormalizationCall: CodableKernelCall {
  public var epsilon: Float
  public var momentum: Float
  public var training: Bool

  public init(epsilon: Float, momentum: Float, training: Bool) {
    self.epsilon = epsilon
    self.momentum = momentum
    self.training = training
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

/// ONNX Runtime's `SkipLayerNormalization` / `SkipSimplifiedLayerNormalization`: the residual
/// sum `s = input + skip (+ bias)`, then LayerNorm (or RMSNorm) of `s` over the last axis with
/// `gamma` (and `beta`). Outputs, a prefix as asked: `y`; the row mean of `s`; its inverse
/// standard deviation `1/√(var + ε)` (RMS form: `1/√(mean(s²) + ε)`), both `[…, 1]`; and `s`.
/// Inputs: input, skip, gamma, then beta (LayerNorm form only, may be omitted) and bias.
public struct SkipNormalizationCall: CodableKernelCall {
  public static let names = ["SkipLayerNormalization", "SkipSimplifiedLayerNormalization"]
  public var name: String
  public var epsilon: Float

  public init(rms: Bool, epsilon: Float) {
    name = Self.names[rms ? 1 : 0]
    self.epsilon = epsilon
  }

  public var rms: Bool { name == "SkipSimplifiedLayerNormalization" }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var sum = try Elementwise.binary("Add", KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1))
    if let bias = KernelCalls.optional(inputs, rms ? 3 : 4) { sum = try Elementwise.binary("Add", sum, bias) }
    let y = try LinearAlgebra.layerNorm(
      sum, scale: KernelCalls.input(inputs, 2), bias: rms ? nil : KernelCalls.optional(inputs, 3), axis: -1,
      epsilon: epsilon, rms: rms, output: context.output(0))[0]
    guard context.outputCount > 1 else { return [y] }
    let width = max(sum.shape.last ?? 1, 1), rows = sum.count / width
    var means = [Float](repeating: 0, count: rows), inverses = [Float](repeating: 0, count: rows)
    for row in 0..<rows {
      var total = 0.0, squares = 0.0
      for j in 0..<width {
        let v = Double(sum.floats[row * width + j])
        total += v
        squares += v * v
      }
      let mean = total / Double(width)
      let spread = rms ? squares / Double(width) : max(squares / Double(width) - mean * mean, 0)
      means[row] = Float(mean)
      inverses[row] = Float(1 / (spread + Double(epsilon)).squareRoot())
    }
    let statisticsShape = Array(sum.shape.dropLast()) + [1]
    let outputs = [y, .float(means, statisticsShape, dtype: sum.dtype), .float(inverses, statisticsShape, dtype: sum.dtype), sum]
    return Array(outputs.prefix(context.outputCount))
  }
}

/// `InstanceNormalization`: each (item, channel) row of `X [N, C, D…]` over its spatial axes.
public struct InstanceNormalizationCall: CodableKernelCall {
  public var epsilon: Float

  public init(epsilon: Float) { self.epsilon = epsilon }

  public var memory: KernelMemory { KernelMemory(outputs: [0], inPlace: [0]) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try LinearAlgebra.instanceNorm(
      KernelCalls.input(inputs, 0), scale: KernelCalls.input(inputs, 1), bias: KernelCalls.input(inputs, 2),
      epsilon: epsilon, output: context.output(0))]
  }
}
