import AttncKernels
import AttncTensor
import Foundation

/// Elementwise binary ops with numpy broadcasting: arithmetic (`Add`, `Sub`, `Mul`, `Div`,
/// `Pow`, `Mod`), comparison (`Equal`, `Less`, `LessOrEqual`, `Greater`, `GreaterOrEqual`) and
/// logic (`And`, `Or`, `Xor`).
///
/// Integer arithmetic is exact (Div truncates toward zero, as ONNX's integer Div does; Mod follows
/// `fmod` semantics when `fmod=1`, else the sign of the divisor). Arithmetic on small integer
/// tensors propagates symbolic contents, so `Shape(x)[1] * 2` stays `2*seq`.
public struct Binary: Op, ContentPropagating {
  public enum Function: String, Sendable, CaseIterable {
    case add = "Add", sub = "Sub", mul = "Mul", div = "Div", pow = "Pow", mod = "Mod"
    case equal = "Equal", less = "Less", lessOrEqual = "LessOrEqual", greater = "Greater"
    case greaterOrEqual = "GreaterOrEqual"
    case and = "And", or = "Or", xor = "Xor"

    var isComparison: Bool {
      switch self {
      case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual: true
      default: false
      }
    }
    var isLogic: Bool { self == .and || self == .or || self == .xor }
  }

  public var function: Function
  /// `Mod`'s `fmod` attribute: 1 = C fmod (sign of dividend), 0 = Python mod (sign of divisor).
  public var fmod: Bool

  public init(_ function: Function, fmod: Bool = false) {
    self.function = function
    self.fmod = fmod
  }

  public init(_ function: Function, attributes: Attributes, opset: Int) throws {
    self.function = function
    fmod = try attributes.int("fmod", default: 0) != 0
    if opset < 7, try attributes.int("broadcast", default: 0) != 0 || attributes.has("axis") {
      throw AttncError.unsupported("legacy broadcast attributes (opset \(opset)) are not supported")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let a = try inputs.required(0)
    let b = try inputs.required(1)
    if function != .pow && a.dtype != b.dtype {
      throw AttncError.invalid("input types differ: \(a.dtype) and \(b.dtype)")
    }
    if function.isLogic && a.dtype != .bool {
      throw AttncError.invalid("\(function.rawValue) needs bool inputs, got \(a.dtype)")
    }
    let dims = try Shapes.broadcast([a.dims, b.dims])
    let dtype = function.isComparison || function.isLogic ? DType.bool : a.dtype
    return [TensorType(dtype, dims)]
  }

  func integer(_ x: Int64, _ y: Int64) throws -> Int64 {
    switch function {
    case .add: return x &+ y
    case .sub: return x &- y
    case .mul: return x &* y
    case .div:
      guard y != 0 else { throw AttncError.invalid("integer division by zero") }
      return x / y
    case .mod:
      guard y != 0 else { throw AttncError.invalid("integer modulo by zero") }
      let r = x % y
      return fmod || r == 0 || (r < 0) == (y < 0) ? r : r + y
    case .pow: return Int64(Foundation.pow(Double(x), Double(y)))
    case .equal: return x == y ? 1 : 0
    case .less: return x < y ? 1 : 0
    case .lessOrEqual: return x <= y ? 1 : 0
    case .greater: return x > y ? 1 : 0
    case .greaterOrEqual: return x >= y ? 1 : 0
    case .and: return (x != 0 && y != 0) ? 1 : 0
    case .or: return (x != 0 || y != 0) ? 1 : 0
    case .xor: return ((x != 0) != (y != 0)) ? 1 : 0
    }
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard inputs.count == 2, let a = inputs[0]?.content, let b = inputs[1]?.content,
      inputs[0]?.dtype.isInteger == true, outputTypes.first?.rank ?? 2 <= 1
    else { return [nil] }
    let n = max(a.count, b.count)
    guard a.count == n || a.count == 1, b.count == n || b.count == 1 else { return [nil] }
    var result: [Dim] = []
    for i in 0..<n {
      let x = a[a.count == 1 ? 0 : i]
      let y = b[b.count == 1 ? 0 : i]
      switch function {
      case .add: result.append(x + y)
      case .sub: result.append(x - y)
      case .mul: result.append(x * y)
      case .div:
        // Integer Div truncates; for non-negative dims that is floor division.
        guard x.isKnownNonNegative, let d = y.value, d > 0 else { return [nil] }
        result.append(x.floorDivided(by: d))
      case .mod:
        guard x.isKnownNonNegative, let d = y.value, d > 0 else { return [nil] }
        result.append(x.modulo(d))
      case .equal:
        // A non-negative dim never equals a negative constant (the `-1` exporters test for).
        if x == y {
          result.append(1)
        } else if let c = y.value, c < 0, x.isKnownNonNegative {
          result.append(0)
        } else if let c = x.value, c < 0, y.isKnownNonNegative {
          result.append(0)
        } else if let p = x.value, let q = y.value {
          result.append(p == q ? 1 : 0)
        } else {
          return [nil]
        }
      default:
        guard let p = x.value, let q = y.value, let v = try? integer(Int64(p), Int64(q)) else {
          return [nil]
        }
        result.append(Dim(Int(v)))
      }
    }
    return [result]
  }
}

extension OpRegistry {
  /// Entries for every `Binary.Function`.
  static var binaryEntries: [Entry] { Entry.family { try Binary($0, attributes: $1, opset: $2) } }
}

extension Binary: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(BinaryCall(function.rawValue, fmod: fmod))
  }
}

extension Binary: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
