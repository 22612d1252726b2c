import AttncKernels
import AttncTensor
import Foundation

/// Elementwise unary ops: `y = f(x)`, same shape, same element type (bool for `IsNaN`/`IsInf`).
///
/// Math (ONNX definitions): `Relu = max(0, x)`, `Sigmoid = 1 / (1 + e^-x)`,
/// `Softplus = ln(1 + e^x)`, `Mish = x·tanh(softplus(x))`,
/// `HardSigmoid = max(0, min(1, αx + β))`, `HardSwish = x·max(0, min(1, x/6 + 1/2))`,
/// `LeakyRelu = x < 0 ? αx : x`, `Gelu = x/2·(1 + erf(x/√2))` or with `approximate="tanh"`
/// `x/2·(1 + tanh(√(2/π)·(x + 0.044715x³)))`, `Swish = x·sigmoid(αx)`, `Round` to nearest even,
/// `Sign ∈ {-1, 0, 1}`, `Not` on bool. Integer `Abs`, `Neg`, `Sign`, `Relu` are exact (Neg wraps).
public struct Unary: Op, Evaluable {
  /// The function and its parameters.
  public enum Function: Hashable, Sendable {
    case abs, ceil, cos, erf, exp, floor, log, neg, not, reciprocal, relu, round, sigmoid, sign
    case sin, sqrt, tanh, softplus, mish, isNaN, hardSwish
    /// `IsInf`: true for -inf when `negative`, for +inf when `positive`.
    case isInf(negative: Bool, positive: Bool)
    case hardSigmoid(alpha: Double, beta: Double)
    case leakyRelu(alpha: Double)
    /// `Gelu`; `tanh` selects the tanh approximation.
    case gelu(tanh: Bool)
    case swish(alpha: Double)

    /// The ONNX op type.
    public var onnxType: String {
      switch self {
      case .abs: "Abs"
      case .ceil: "Ceil"
      case .cos: "Cos"
      case .erf: "Erf"
      case .exp: "Exp"
      case .floor: "Floor"
      case .log: "Log"
      case .neg: "Neg"
      case .not: "Not"
      case .reciprocal: "Reciprocal"
      case .relu: "Relu"
      case .round: "Round"
      case .sigmoid: "Sigmoid"
      case .sign: "Sign"
      case .sin: "Sin"
      case .sqrt: "Sqrt"
      case .tanh: "Tanh"
      case .softplus: "Softplus"
      case .mish: "Mish"
      case .isNaN: "IsNaN"
      case .hardSwish: "HardSwish"
      case .isInf: "IsInf"
      case .hardSigmoid: "HardSigmoid"
      case .leakyRelu: "LeakyRelu"
      case .gelu: "Gelu"
      case .swish: "Swish"
      }
    }

    /// Element types the function accepts.
    enum Domain { case floating, numeric, bool }

    var domain: Domain {
      switch self {
      case .abs, .neg, .sign, .relu, .erf: .numeric
      case .not: .bool
      default: .floating
      }
    }
  }

  /// Every ONNX type of the family with the first opset that defines it.
  public static let types: [(type: String, since: Int)] = [
    ("Abs", 1), ("Ceil", 1), ("Cos", 7), ("Erf", 9), ("Exp", 1), ("Floor", 1), ("Log", 1),
    ("Neg", 1), ("Not", 1), ("Reciprocal", 1), ("Relu", 1), ("Round", 11), ("Sigmoid", 1),
    ("Sign", 9), ("Sin", 7), ("Sqrt", 1), ("Tanh", 1), ("Softplus", 1), ("Mish", 18),
    ("IsNaN", 9), ("HardSwish", 14), ("IsInf", 10), ("HardSigmoid", 1), ("LeakyRelu", 1),
    ("Gelu", 20), ("Swish", 24),
  ]

  public var function: Function

  /// The op computing `function`.
  public init(_ function: Function) { self.function = function }

  /// Parses the function named `type` with its attributes and ONNX defaults
  /// (`HardSigmoid` α = 0.2, β = 0.5; `LeakyRelu` α = 0.01; `Swish` α = 1; `IsInf` detects both).
  /// - Throws: "unknown unary op 'X'", "attribute 'approximate' must be 'none' or 'tanh', got 'y'".
  public init(type: String, attributes: Attributes, opset: Int) throws {
    switch type {
    case "Abs": function = .abs
    case "Ceil": function = .ceil
    case "Cos": function = .cos
    case "Erf": function = .erf
    case "Exp": function = .exp
    case "Floor": function = .floor
    case "Log": function = .log
    case "Neg": function = .neg
    case "Not": function = .not
    case "Reciprocal": function = .reciprocal
    case "Relu": function = .relu
    case "Round": function = .round
    case "Sigmoid": function = .sigmoid
    case "Sign": function = .sign
    case "Sin": function = .sin
    case "Sqrt": function = .sqrt
    case "Tanh": function = .tanh
    case "Softplus": function = .softplus
    case "Mish": function = .mish
    case "IsNaN": function = .isNaN
    case "HardSwish": function = .hardSwish
    case "IsInf":
      function = .isInf(
        negative: try attributes.int("detect_negative", default: 1) != 0,
        positive: try attributes.int("detect_positive", default: 1) != 0)
    case "HardSigmoid":
      function = .hardSigmoid(
        alpha: Double(try attributes.float("alpha", default: 0.2)),
        beta: Double(try attributes.float("beta", default: 0.5)))
    case "LeakyRelu":
      function = .leakyRelu(alpha: Double(try attributes.float("alpha", default: 0.01)))
    case "Gelu":
      let approximate = try attributes.string("approximate", default: "none")
      guard approximate == "none" || approximate == "tanh" else {
        throw AttncError.invalid(
          "attribute 'approximate' must be 'none' or 'tanh', got '\(approximate)'")
      }
      function = .gelu(tanh: approximate == "tanh")
    case "Swish":
      function = .swish(alpha: Double(try attributes.float("alpha", default: 1)))
    default:
      throw AttncError.invalid("unknown unary op '\(type)'")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    switch function.domain {
    case .floating: try x.expectFloatingPoint("X")
    case .numeric: try x.expectNumeric("X")
    case .bool:
      guard x.dtype == .bool else {
        throw AttncError.invalid("input 'X' must be bool, got \(x.dtype)")
      }
    }
    switch function {
    case .isNaN, .isInf: return [TensorType(.bool, x.dims)]
    default: return [x.type]
    }
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    guard let x = inputs.first ?? nil else { throw AttncError.invalid("input 0 is required") }
    switch function {
    case .not:
      guard x.dtype == .bool else { throw AttncError.invalid("Not needs a bool input") }
      return [
        HostTensor(dtype: .bool, shape: x.shape, integers: x.int64s().map { $0 == 0 ? 1 : 0 })
      ]
    case .isNaN, .isInf:
      let flags = x.doubles().map { test($0) ? Int64(1) : 0 }
      return [HostTensor(dtype: .bool, shape: x.shape, integers: flags)]
    default:
      break
    }
    if x.dtype.isInteger, let exact = integerFunction(unsigned: !x.dtype.isSignedInteger) {
      return [HostTensor(dtype: x.dtype, shape: x.shape, integers: x.int64s().map(exact))]
    }
    guard x.dtype.isFloatingPoint || x.dtype.isInteger else {
      throw AttncError.unsupported("\(function.onnxType) on \(x.dtype) is not evaluated")
    }
    return [HostTensor(dtype: x.dtype, shape: x.shape, converting: x.doubles().map(apply))]
  }

  /// The exact integer form of the function, for the functions that have one.
  func integerFunction(unsigned: Bool) -> ((Int64) -> Int64)? {
    switch function {
    case .abs: return unsigned ? { $0 } : { $0 < 0 ? 0 &- $0 : $0 }
    case .neg: return { 0 &- $0 }
    case .sign: return unsigned ? { $0 == 0 ? 0 : 1 } : { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
    case .relu: return unsigned ? { $0 } : { Swift.max($0, 0) }
    default: return nil
    }
  }

  /// `IsNaN` / `IsInf` on one element.
  func test(_ x: Double) -> Bool {
    switch function {
    case .isNaN: return x.isNaN
    case .isInf(let negative, let positive):
      return x.isInfinite && (x < 0 ? negative : positive)
    default: return false
    }
  }

  /// The function on one real element, in double precision.
  public func apply(_ x: Double) -> Double {
    switch function {
    case .abs: return Swift.abs(x)
    case .ceil: return x.rounded(.up)
    case .cos: return Foundation.cos(x)
    case .erf: return Foundation.erf(x)
    case .exp: return Foundation.exp(x)
    case .floor: return x.rounded(.down)
    case .log: return Foundation.log(x)
    case .neg: return -x
    case .reciprocal: return 1 / x
    case .relu: return x < 0 ? 0 : x
    case .round: return x.rounded(.toNearestOrEven)
    case .sigmoid: return Unary.sigmoid(x)
    case .sign: return x > 0 ? 1 : (x < 0 ? -1 : x)
    case .sin: return Foundation.sin(x)
    case .sqrt: return x.squareRoot()
    case .tanh: return Foundation.tanh(x)
    case .softplus: return Unary.softplus(x)
    case .mish: return x * Foundation.tanh(Unary.softplus(x))
    case .hardSwish: return x * Swift.max(0, Swift.min(1, x / 6 + 0.5))
    case .hardSigmoid(let alpha, let beta): return Swift.max(0, Swift.min(1, alpha * x + beta))
    case .leakyRelu(let alpha): return x < 0 ? alpha * x : x
    case .gelu(let tanh):
      if tanh {
        let inner = (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + Foundation.tanh(inner))
      }
      return 0.5 * x * (1 + Foundation.erf(x / 2.0.squareRoot()))
    case .swish(let alpha): return x * Unary.sigmoid(alpha * x)
    case .not, .isNaN, .isInf: return x
    }
  }

  /// `1 / (1 + e^-x)` without overflow for large |x|.
  static func sigmoid(_ x: Double) -> Double {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
  }

  /// `ln(1 + e^x)` without overflow for large x.
  static func softplus(_ x: Double) -> Double {
    x > 0 ? x + Foundation.log1p(Foundation.exp(-x)) : Foundation.log1p(Foundation.exp(x))
  }
}

extension OpRegistry {
  /// Entries for every `Unary` function.
  static var unaryEntries: [Entry] {
    Unary.types.map { item in
      Entry(item.type, since: item.since) { attributes, opset in
        try Unary(type: item.type, attributes: attributes, opset: opset)
      }
    }
  }
}

extension Unary: ContentPropagating {
  /// `Neg` and `Abs` of a small integer vector stay symbolic (`Neg(axis)` in expanded functions).
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.dtype.isSignedInteger, let content = x.content else {
      return [nil]
    }
    switch function {
    case .neg: return [content.map { -$0 }]
    case .abs:
      guard content.allSatisfy({ $0.isKnownNonNegative || $0.isConstant }) else { return [nil] }
      return [content.map { $0.value.map { Dim(Swift.abs($0)) } ?? $0 }]
    default: return [nil]
    }
  }
}

extension Unary: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    switch function {
    case .hardSigmoid(let alpha, let beta): return Lowering(UnaryCall("HardSigmoid", alpha: alpha, beta: beta))
    case .leakyRelu(let alpha): return Lowering(UnaryCall("LeakyRelu", alpha: alpha))
    case .swish(let alpha): return Lowering(UnaryCall("Swish", alpha: alpha))
    case .gelu(let tanh): return Lowering(UnaryCall("Gelu", tanhApproximation: tanh))
    case .isInf(let negative, let positive): return Lowering(IsInfCall(detectNegative: negative, detectPositive: positive))
    default:
      guard UnaryCall.names.contains(function.onnxType) else { return nil }
      return Lowering(UnaryCall(function.onnxType))
    }
  }
}

extension Unary: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
