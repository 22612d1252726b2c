import AttncIR
import AttncTensor

/// `fuse-gelu`: replaces the GELU that exporters spell out elementwise by one `Gelu` node.
///
/// Matched forms (commutative operands in either order, every interior value single-use):
/// - erf:  `x·0.5·(1 + erf(x/√2))`, the `/√2` as `Div(x, 1.41421)` or `Mul(x, 0.70711)`;
/// - tanh: `x·0.5·(1 + tanh(0.79788·(x + 0.044715·x³)))`, `x³` as `Pow(x, 3)`;
/// and the final products as `(x·0.5)·s` or `(x·s)·0.5`. Constants are checked to 1e-4 relative,
/// or to their float16 or bfloat16 rounding (a widened half-precision model's): the fused `Gelu`
/// then uses the exact constants, a change below the narrow type's own precision.
public enum FuseGelu {
  public static let pass = Pass("fuse-gelu") { graph in try run(&graph) }

  struct Match {
    var x: ValueID
    var output: ValueID
    /// Index of the node producing `output` (the fused node goes right after it).
    var last: Int
    var tanh: Bool
  }

  static func run(_ graph: inout Graph) throws -> Int {
    let matching = GraphMatching(graph)
    var matches: [Match] = []
    for node in graph.nodes where node.domain.isEmpty && (node.opType == "Erf" || node.opType == "Tanh") {
      if let match = self.match(node, matching) { matches.append(match) }
    }
    guard !matches.isEmpty else { return 0 }
    var inserted: [Int: [Node]] = [:]
    for match in matches {
      let type = graph.values[match.output].type
      let gelu = graph.addValue(Value(name: graph.freshName(graph.values[match.x].name + "__gelu"), type: type))
      let attributes = Attributes(match.tanh ? ["approximate": .string("tanh")] : [:])
      let opset = max(graph.nodes[match.last].opset, 20)
      let op = try OpRegistry.make(domain: "", type: "Gelu", attributes: attributes, opset: opset)
      inserted[match.last] = [Node(
        name: graph.nodes[match.last].name + "/gelu", opType: "Gelu", inputs: [match.x], outputs: [gelu],
        attributes: attributes, opset: opset, op: op)]
      graph.redirect(match.output, to: gelu)
    }
    graph.insert(after: inserted)
    return matches.count
  }

  /// Matches the GELU whose Erf or Tanh is `node`.
  static func match(_ node: Node, _ m: GraphMatching) -> Match? {
    guard let argument = node.inputs.first ?? nil, m.soleConsumer(argument) != nil,
      let scaling = m.producer(argument)
    else { return nil }
    let isTanh = node.opType == "Tanh"
    var x: ValueID
    if isTanh {
      // 0.79788·(x + 0.044715·x³)
      guard let (sum, c) = m.withScalar(scaling, "Mul"), GraphMatching.near(c, 0.7978845608),
        m.soleConsumer(sum) != nil, let add = m.producer(sum), add.opType == "Add", add.inputs.count == 2,
        let left = add.inputs[0], let right = add.inputs[1]
      else { return nil }
      func cubeTerm(_ value: ValueID, of base: ValueID) -> Bool {
        guard m.soleConsumer(value) != nil, let mul = m.producer(value),
          let (cube, k) = m.withScalar(mul, "Mul"), GraphMatching.near(k, 0.044715),
          m.soleConsumer(cube) != nil, let pow = m.producer(cube),
          let (powBase, exponent) = m.withScalar(pow, "Pow", constantSecond: true)
        else { return false }
        return exponent == 3 && powBase == base
      }
      if cubeTerm(right, of: left) {
        x = left
      } else if cubeTerm(left, of: right) {
        x = right
      } else {
        return nil
      }
    } else if let (base, c) = m.withScalar(scaling, "Div", constantSecond: true), GraphMatching.near(c, 1.4142135) {
      x = base
    } else if let (base, c) = m.withScalar(scaling, "Mul"), GraphMatching.near(c, 0.70710678) {
      x = base
    } else {
      return nil
    }
    // 1 + f
    guard let f = node.outputs.first, let (addIndex, add) = m.soleConsumer(f),
      let (_, one) = m.withScalar(add, "Add"), one == 1, let shifted = add.outputs.first,
      let (productIndex, product) = m.soleConsumer(shifted),
      let other = m.otherOperand(product, "Mul", besides: shifted), let productValue = product.outputs.first
    else { return nil }
    _ = addIndex
    if other == x {
      // (x·s)·0.5
      guard let (halfIndex, half) = m.soleConsumer(productValue), let (_, c) = m.withScalar(half, "Mul"),
        c == 0.5, let output = half.outputs.first
      else { return nil }
      return Match(x: x, output: output, last: halfIndex, tanh: isTanh)
    }
    // (x·0.5)·s
    guard m.soleConsumer(other) != nil, let half = m.producer(other), let (base, c) = m.withScalar(half, "Mul"),
      c == 0.5, base == x
    else { return nil }
    return Match(x: x, output: productValue, last: productIndex, tanh: isTanh)
  }
}
