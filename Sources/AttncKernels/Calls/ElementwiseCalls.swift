import AttncTensor

/// A broadcasting binary op (`Add`, `Pow`, `Equal`, `And`, …); `fmod` for `Mod`.
public struct BinaryCall: CodableKernelCall {
  public static let names = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual",
                             "Greater", "GreaterOrEqual", "And", "Or", "Xor"]
  public var name: String
  public var fmod: Bool

  public init(_ name: String, fmod: Bool = false) {
    self.name = name
    self.fmod = fmod
  }

  public var memory: KernelMemory {
    // Pow writes its result through output 0 only on the scalar-exponent path; other exponents
    // give a fresh array, which the interpreter accepts too.
    ["Add", "Sub", "Mul", "Div"].contains(name) ? .elementwise : name == "Pow" ? KernelMemory(outputs: [0], inPlace: [0]) : .none
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Elementwise.binary(name, KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), fmod: fmod, output: context.output(0))]
  }
}

/// A unary op (`Exp`, `Gelu`, `LeakyRelu`, …) with the attributes its function takes.
public struct UnaryCall: CodableKernelCall {
  public static let names = ["Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Erf", "Sigmoid",
                             "Relu", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", "Softplus", "LeakyRelu",
                             "HardSigmoid", "HardSwish", "Mish", "Swish", "Gelu", "Not", "IsNaN"]
  public var name: String
  /// LeakyRelu's and Swish's `alpha`, HardSigmoid's `alpha` and `beta`.
  public var alpha: Double?
  public var beta: Double?
  /// Gelu's form (nil for the other functions).
  public var approximate: GeluApproximation?

  public init(_ name: String, alpha: Double? = nil, beta: Double? = nil, tanhApproximation: Bool = false) {
    self.name = name
    self.alpha = alpha
    self.beta = beta
    approximate = name == "Gelu" ? GeluApproximation(tanh: tanhApproximation) : nil
  }

  /// Gelu's tanh approximation.
  public var tanhApproximation: Bool { approximate == .tanh }

  public var memory: KernelMemory {
    ["Exp", "Erf", "Tanh", "Gelu", "Sigmoid", "Swish", "Neg", "Abs", "Relu", "Sqrt", "Reciprocal"].contains(name)
      ? KernelMemory(outputs: [0], inPlace: [0]) : .none
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Elementwise.unary(
      name, KernelCalls.input(inputs, 0), alpha: Float(alpha ?? 0), beta: Float(beta ?? 0),
      approximate: (approximate ?? .erf).rawValue, output: context.output(0))]
  }
}

/// `IsInf`: which infinities count.
public struct IsInfCall: CodableKernelCall {
  public var detectNegative: Bool
  public var detectPositive: Bool
  enum CodingKeys: String, CodingKey { case detectNegative = "detect_negative", detectPositive = "detect_positive" }

  public init(detectNegative: Bool, detectPositive: Bool) {
    self.detectNegative = detectNegative
    self.detectPositive = detectPositive
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    return [.int(x.floats.map { ($0 == .infinity && detectPositive) || ($0 == -.infinity && detectNegative) ? 1 : 0 }, x.shape, dtype: .bool)]
  }
}

/// `Sum`, `Max`, `Min` over any number of broadcasting inputs, folded pairwise.
public struct VariadicCall: CodableKernelCall {
  public static let names = ["Sum", "Max", "Min"]
  public var name: String

  public init(_ name: String) { self.name = name }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let pairwise = name == "Sum" ? "Add" : name
    var result = try KernelCalls.input(inputs, 0)
    for k in 1..<max(inputs.count, 1) { result = try Elementwise.binary(pairwise, result, KernelCalls.input(inputs, k)) }
    return [result]
  }
}

/// `Where(condition, x, y)` with broadcasting.
public struct WhereCall: CodableKernelCall {
  public init() {}

  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Elementwise.select(KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), KernelCalls.input(inputs, 2), output: context.output(0))]
  }
}

/// `Cast` (and `CastLike`) to a dtype, with the float8 saturation and rounding modes.
public struct CastCall: CodableKernelCall {
  public var to: DType
  public var saturate: Bool
  public var rounding: NarrowFloat.Rounding
  enum CodingKeys: String, CodingKey { case to, saturate, rounding = "round_mode" }

  public init(to: DType, saturate: Bool = true, rounding: NarrowFloat.Rounding = .up) {
    self.to = to
    self.saturate = saturate
    self.rounding = rounding
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Elementwise.cast(KernelCalls.input(inputs, 0), to: to, saturate: saturate, rounding: rounding)]
  }
}

/// `Clip` to bounds given as attributes (opset < 11) or as inputs 1 and 2.
public struct ClipCall: KernelCall {
  /// The attribute bounds, when the op has them.
  public var bounds: (min: Double, max: Double)?

  public init(bounds: (min: Double, max: Double)?) { self.bounds = bounds }

  public init(name: String, parameters: KernelParameters) throws {
    if let low = try parameters.floats("min")?.first, let high = try parameters.floats("max")?.first {
      bounds = (Double(low), Double(high))
    }
  }

  public var parameters: [String: KernelParameter] {
    guard let bounds else { return [:] }
    return ["min": .floats([bounds.min]), "max": .floats([bounds.max])]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var x = try KernelCalls.input(inputs, 0)
    let low = inputs.count > 1 ? inputs[1]?.floats.first : bounds.map { Float($0.min) }
    let high = inputs.count > 2 ? inputs[2]?.floats.first : bounds.map { Float($0.max) }
    if !x.isFloat {
      let lowInt = inputs.count > 1 ? inputs[1]?.ints.first : nil
      let highInt = inputs.count > 2 ? inputs[2]?.ints.first : nil
      x.ints = x.ints.map { v in min(max(v, lowInt ?? .min), highInt ?? .max) }
      return [x]
    }
    x.floats = FloatBuffer(x.floats.map { v in min(max(v, low ?? -.infinity), high ?? .infinity) })
    return [x]
  }
}

/// `Gelu(x + bias)` with `bias` (when given) broadcast along the last axis: ONNX Runtime's
/// `BiasGelu` (erf form) and `FastGelu` (tanh form).
public struct BiasGeluCall: CodableKernelCall {
  /// The tanh approximation (`FastGelu`) or the erf form.
  public var approximate: GeluApproximation

  public init(tanhApproximation: Bool) { approximate = GeluApproximation(tanh: tanhApproximation) }

  /// The tanh approximation (`FastGelu`) instead of the erf form.
  public var tanhApproximation: Bool { approximate == .tanh }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var x = try KernelCalls.input(inputs, 0)
    if let bias = KernelCalls.optional(inputs, 1) { x = try Elementwise.binary("Add", x, bias) }
    return [try Elementwise.unary("Gelu", x, approximate: approximate.rawValue, output: context.output(0))]
  }
}

/// Gelu's form: the erf definition or the tanh approximation (ONNX `approximate`).
public enum GeluApproximation: String, Sendable, Codable, KernelParameterValue {
  case erf = "none"
  case tanh

  init(tanh: Bool) { self = tanh ? .tanh : .erf }
}
