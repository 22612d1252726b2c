import AttncIR
import AttncTensor

/// `fuse-gelu`: replaces the GELU that exporters spell out elementwise by one `Gelu` node.
///
/// ```
/// erf:   x·½·(1 + erf(x/√2))                       x/√2 as Div(x, 1.41421) or Mul(x, 0.70711)
/// tanh:  x·½·(1 + tanh(0.79788·(x + 0.044715·x³)))  x³ as Pow(x, 3)
/// ```
/// The three products in any grouping and order: `(x·½)·s` (legacy), `(x·s)·½`, and `x·(½·s)`
/// (the dynamo exporter), `s` being `1 + erf(…)` or `1 + tanh(…)`. Constants are checked to 1e-4
/// relative, or to their float16 or bfloat16 rounding (a widened half-precision model's:
/// `GraphMatching.near`); the fused `Gelu` then uses the exact constants, a change below the
/// narrow type's own precision. `x` must be the same value everywhere.
public enum FuseGelu {
  static let x = Capture("x"), tanhForm = Capture("tanh")

  public static let pass = Rule.pass("fuse-gelu", [gelu])

  /// `1 + erf(x/√2)`.
  static let erfTerm: Pattern = {
    let scaled = op("Div", any(x), scalar(nil, 1.4142135)) | commutative("Mul", any(x), scalar(nil, 0.70710678))
    return commutative("Add", op("Erf", scaled), scalar(nil, 1))
  }()

  /// `1 + tanh(0.79788·(x + 0.044715·x³))`.
  static let tanhTerm: Pattern = {
    let cube = commutative("Mul", op("Pow", any(x), scalar(nil, 3)), scalar(nil, 0.044715))
    let inner = commutative("Mul", commutative("Add", any(x), cube), scalar(nil, 0.7978845608))
    return commutative("Add", op("Tanh", inner, capture: tanhForm), scalar(nil, 1))
  }()

  static let gelu: Rule = {
    let s = erfTerm | tanhTerm
    let half = scalar(nil, 0.5)
    let pattern =
      commutative("Mul", commutative("Mul", any(x), half), s)
      | commutative("Mul", commutative("Mul", any(x), s), half)
      | commutative("Mul", any(x), commutative("Mul", s, half))
    return Rule("fuse-gelu", pattern) { match, root, graph in
      guard let xValue = match[x], let type = graph.values[root].type, graph.values[xValue].type == type else { return nil }
      let rootNode = graph.nodes[match.nodes[0]]
      let attributes = Attributes(match[tanhForm] == nil ? [:] : ["approximate": .string("tanh")])
      return [try graph.makeNode(
        "Gelu", [xValue], attributes: attributes, opset: max(rootNode.opset, 20), type: type,
        name: rootNode.name + "/gelu")]
    }
  }()
}
