import AttncTensor
import Foundation

/// Elementwise kernels with numpy broadcasting.
public enum Elementwise {
  /// Output shape and, per input, the flat source index of every output element.
  public static func broadcastIndices(_ shapes: [[Int]]) throws -> (shape: [Int], indices: [[Int]]) {
    let out = try broadcastShape(shapes)
    let rank = out.count
    let count = out.reduce(1, *)
    let indices: [[Int]] = shapes.map { shape in
      if shape.reduce(1, *) == count && shape.count <= rank && Array(repeating: 1, count: rank - shape.count) + shape == out {
        return Array(0..<count)
      }
      if shape.reduce(1, *) == 1 { return [Int](repeating: 0, count: count) }
      var strides = [Int](repeating: 0, count: rank)
      var step = 1
      for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[rank - shape.count + i] = shape[i] == 1 ? 0 : step
        step *= shape[i]
      }
      return stridedOffsets(out, strides: strides)
    }
    return (out, indices)
  }

  /// How an input of a broadcast op is indexed from the output's flat index.
  enum Access {
    case same
    case scalar
    /// The input is the output's trailing block of `count` elements, repeated.
    case cyclic(Int)
    case general([Int])

    @inline(__always) func index(_ i: Int) -> Int {
      switch self {
      case .same: return i
      case .scalar: return 0
      case .cyclic(let n): return i % n
      case .general(let table): return table[i]
      }
    }
  }

  /// The numpy broadcast of `shapes` (no index tables).
  /// - Throws: "cannot broadcast [2, 3] with [4]".
  static func broadcastShape(_ shapes: [[Int]]) throws -> [Int] {
    let rank = shapes.reduce(0) { Swift.max($0, $1.count) }
    var out = [Int](repeating: 1, count: rank)
    for shape in shapes {
      for (i, d) in shape.enumerated() {
        let j = rank - shape.count + i
        if out[j] == 1 { out[j] = d } else if d != 1 && d != out[j] {
          throw AttncError.invalid("cannot broadcast \(shapes.map { "\($0)" }.joined(separator: " with "))")
        }
      }
    }
    return out
  }

  /// Output shape and per-input access patterns, choosing the cheap patterns where they apply.
  static func accesses(_ shapes: [[Int]]) throws -> (shape: [Int], access: [Access]) {
    let out = try broadcastShape(shapes)
    let rank = out.count
    let count = out.reduce(1, *)
    var general: [[Int]]? = nil
    var result: [Access] = []
    for (k, shape) in shapes.enumerated() {
      let n = shape.reduce(1, *)
      let padded = [Int](repeating: 1, count: rank - shape.count) + shape
      if padded == out { result.append(.same); continue }
      if n == 1 { result.append(.scalar); continue }
      // Trailing block: leading dims 1, the rest equal to the output's.
      if let first = padded.firstIndex(where: { $0 != 1 }), Array(padded[first...]) == Array(out[first...]), n > 0, count % n == 0 {
        result.append(.cyclic(n))
        continue
      }
      if general == nil { general = try broadcastIndices(shapes).indices }
      result.append(.general(general?[k] ?? []))
    }
    return (out, result)
  }

  /// `op(a, b)` for ONNX binary op types (arithmetic, comparison, logic).
  /// - Parameter output: where a float result goes (an operand's memory is allowed when that
  ///   operand is not broadcast).
  public static func binary(_ op: String, _ a: Tensor, _ b: Tensor, fmod: Bool = false, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    let commutative = ["Add", "Mul", "Max", "Min", "Equal", "And", "Or", "Xor"].contains(op)
    if commutative && a.isFloat == b.isFloat && a.dtype == b.dtype && a.count < b.count {
      return try binary(op, b, a, fmod: fmod, output: output)
    }
    if let fast = try BroadcastLoops.binary(op, a, b, output: output) { return fast }
    if op == "Pow", let fast = try BroadcastLoops.power(a, b, output: output) { return fast }
    if a.dtype == .string || b.dtype == .string {
      guard op == "Equal", a.dtype == b.dtype else { throw AttncError.unsupported("\(op) on \(a.dtype) and \(b.dtype) is not implemented") }
      let (shape, indices) = try broadcastIndices([a.shape, b.shape])
      return .int(zip(indices[0], indices[1]).map { a.strings[$0] == b.strings[$1] ? 1 : 0 }, shape, dtype: .bool)
    }
    let (shape, access) = try accesses([a.shape, b.shape])
    let (ia, ib) = (access[0], access[1])
    let n = shape.reduce(1, *)
    let comparison = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"].contains(op)
    if a.isFloat {
      let y = b.isFloat ? b.floats : FloatBuffer(b.ints.map { Float($0) })
      if comparison {
        var out = [Int64](repeating: 0, count: n)
        a.floats.withUnsafeBufferPointer { x in
          for i in 0..<n {
            let p = x[ia.index(i)], q = y[ib.index(i)]
            let r: Bool
            switch op {
            case "Equal": r = p == q
            case "Less": r = p < q
            case "LessOrEqual": r = p <= q
            case "Greater": r = p > q
            default: r = p >= q
            }
            out[i] = r ? 1 : 0
          }
        }
        return .int(out, shape, dtype: .bool)
      }
      let f: (Float, Float) -> Float
      switch op {
      case "Add": f = { $0 + $1 }
      case "Sub": f = { $0 - $1 }
      case "Mul": f = { $0 * $1 }
      case "Div": f = { $0 / $1 }
      case "Max": f = { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
      case "Min": f = { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
      case "Pow": f = { $1 == 2 ? $0 * $0 : Foundation.pow($0, $1) }
      case "Mod":
        f = { p, q in
          let r = Foundation.fmod(p, q)
          return fmod || r == 0 || (r < 0) == (q < 0) ? r : r + q
        }
      default: throw AttncError.unsupported("\(op) on \(a.dtype) is not implemented")
      }
      var out = [Float](repeating: 0, count: n)
      a.floats.withUnsafeBufferPointer { x in
        y.withUnsafeBufferPointer { y in
          out.withUnsafeMutableBufferPointer { z in
            // Same-type float arithmetic takes BroadcastLoops first; this loop serves mixed types, Pow and Mod.
            for i in 0..<n { z[i] = f(x[ia.index(i)], y[ib.index(i)]) }
          }
        }
      }
      return .float(out, shape, dtype: a.dtype)
    }
    let x = a.ints, y = b.isFloat ? b.floats.map { Int64($0) } : b.ints
    var out = [Int64](repeating: 0, count: n)
    for i in 0..<n {
      let p = x[ia.index(i)], q = y[ib.index(i)]
      switch op {
      case "Add": out[i] = p &+ q
      case "Sub": out[i] = p &- q
      case "Mul": out[i] = p &* q
      case "Div":
        guard q != 0 else { throw AttncError.invalid("integer division by zero") }
        out[i] = p / q
      case "Mod":
        guard q != 0 else { throw AttncError.invalid("integer modulo by zero") }
        let r = p % q
        out[i] = fmod || r == 0 || (r < 0) == (q < 0) ? r : r + q
      case "Pow": out[i] = Int64(Foundation.pow(Double(p), Double(q)))
      case "Max": out[i] = Swift.max(p, q)
      case "Min": out[i] = Swift.min(p, q)
      case "Equal": out[i] = p == q ? 1 : 0
      case "Less": out[i] = p < q ? 1 : 0
      case "LessOrEqual": out[i] = p <= q ? 1 : 0
      case "Greater": out[i] = p > q ? 1 : 0
      case "GreaterOrEqual": out[i] = p >= q ? 1 : 0
      case "And": out[i] = (p != 0 && q != 0) ? 1 : 0
      case "Or": out[i] = (p != 0 || q != 0) ? 1 : 0
      case "Xor": out[i] = ((p != 0) != (q != 0)) ? 1 : 0
      default: throw AttncError.unsupported("\(op) on \(a.dtype) is not implemented")
      }
    }
    return .int(out, shape, dtype: comparison ? .bool : a.dtype)
  }

  /// Unary functions by ONNX op type; `alpha`/`beta` for the parametrised ones.
  public static func unary(_ op: String, _ x: Tensor, alpha: Float = 0, beta: Float = 0, approximate: String = "none", output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    if !x.isFloat {
      let v = x.ints
      let out: [Int64]
      switch op {
      case "Neg": out = v.map { 0 &- $0 }
      case "Abs": out = v.map { $0 < 0 ? 0 &- $0 : $0 }
      case "Not": out = v.map { $0 == 0 ? 1 : 0 }
      case "Sign": out = v.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
      case "Relu": out = v.map { max($0, 0) }
      default: throw AttncError.unsupported("\(op) on \(x.dtype) is not implemented")
      }
      return .int(out, x.shape, dtype: x.dtype)
    }
    if let fast = BroadcastLoops.unary(op, x, alpha: op == "Swish" ? alpha : 1, approximate: approximate, output: output) { return fast }
    let f: (Float) -> Float
    switch op {
    case "Neg": f = { -$0 }
    case "Abs": f = { Swift.abs($0) }
    case "Exp": f = { Foundation.exp($0) }
    case "Log": f = { Foundation.log($0) }
    case "Sqrt": f = { $0.squareRoot() }
    case "Reciprocal": f = { 1 / $0 }
    case "Tanh": f = { Foundation.tanh($0) }
    case "Erf": f = { Foundation.erf($0) }
    case "Sigmoid": f = { 1 / (1 + Foundation.exp(-$0)) }
    case "Relu": f = { max($0, 0) }
    case "Sin": f = { Foundation.sin($0) }
    case "Cos": f = { Foundation.cos($0) }
    case "Floor": f = { $0.rounded(.down) }
    case "Ceil": f = { $0.rounded(.up) }
    case "Round": f = { $0.rounded(.toNearestOrEven) }
    case "Sign": f = { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
    // log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|): no overflow for large x.
    case "Softplus": f = { Swift.max($0, 0) + Foundation.log1p(Foundation.exp(-Swift.abs($0))) }
    case "LeakyRelu": f = { $0 >= 0 ? $0 : alpha * $0 }
    case "HardSigmoid": f = { max(0, min(1, alpha * $0 + beta)) }
    case "HardSwish": f = { $0 * max(0, min(1, $0 / 6 + 0.5)) }
    case "Mish": f = { $0 * Foundation.tanh(Foundation.log1p(Foundation.exp($0))) }
    case "Swish": f = { $0 / (1 + Foundation.exp(-alpha * $0)) }
    case "Gelu":
      if approximate == "tanh" {
        f = { 0.5 * $0 * (1 + Foundation.tanh(0.7978845608 * ($0 + 0.044715 * $0 * $0 * $0))) }
      } else {
        f = { 0.5 * $0 * (1 + Foundation.erf($0 * 0.70710678118654752)) }
      }
    case "IsNaN": return .int(x.floats.map { $0.isNaN ? 1 : 0 }, x.shape, dtype: .bool)
    default: throw AttncError.unsupported("\(op) is not implemented")
    }
    return .float(x.floats.map(f), x.shape, dtype: x.dtype)
  }

  /// `Where(c, x, y)` with broadcasting: `x`'s element where the condition is non-zero, else
  /// `y`'s. Float and integer values go through strided rows (`BroadcastLoops.select`); strings
  /// element by element.
  /// - Parameter output: where a float result goes.
  /// - Throws: for shapes that do not broadcast, a float condition, or `x` and `y` of
  ///   different kinds.
  public static func select(_ c: Tensor, _ x: Tensor, _ y: Tensor, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    guard !c.isFloat, c.dtype != .string else { throw AttncError.invalid("Where's condition must be bool, got \(c.dtype)") }
    guard x.isFloat == y.isFloat, (x.dtype == .string) == (y.dtype == .string) else {
      throw AttncError.invalid("Where's values differ in type: \(x.dtype) and \(y.dtype)")
    }
    if x.dtype != .string { return try BroadcastLoops.select(c, x, y, output: output) }
    let (shape, idx) = try broadcastIndices([c.shape, x.shape, y.shape])
    let n = shape.reduce(1, *)
    return Tensor(dtype: .string, shape: shape, strings: (0..<n).map { c.ints[idx[0][$0]] != 0 ? x.strings[idx[1][$0]] : y.strings[idx[2][$0]] })
  }
}
