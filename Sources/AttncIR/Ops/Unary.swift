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
public struct Unary: Op {
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
