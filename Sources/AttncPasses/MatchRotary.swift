import AttncIR
import AttncTensor

/// `match-rotary`: rotary position embedding as exporters write it becomes one `FusedRotary`,
/// run by attnc's rotary kernel instead of five to eight elementwise and movement ops per head
/// tensor. Two named rules, the second growing the first:
///
///     rotate-half (Llama, Qwen2, GPT-NeoX, Phi; ONNX's non-interleaved pairing):
///       Add(Mul(x, cos), Mul(Concat(Neg(x[..., h:2h]), x[..., :h]), sin))   x's last axis 2h
///         → FusedRotary(x, cos, sin)
///     rotate-every-two (GPT-J; interleaved pairing):
///       Add(Mul(x, cos), Mul(Reshape(Concat(Unsqueeze(Neg(x[..., 1::2])), Unsqueeze(x[..., ::2]))), sin))
///         → FusedRotary(x, cos, sin, interleaved)
///     rotary-pass-through (partial rotary: GPT-NeoX's rotary_pct, Phi's partial_rotary_factor):
///       Concat(FusedRotary(x[..., :R], cos, sin), x[..., R:]) → FusedRotary(x, cos, sin, R)
///
/// Mul and Add operands match in either order. `cos` and `sin` must broadcast to x's leading axes
/// with one entry per rotated feature (the kernel reads exactly the entries the graph multiplies,
/// so nothing is assumed about how the model built them). The replaced nodes become dead.
public enum MatchRotary {
  public static let pass = Pass("match-rotary") { graph in try run(&graph) }

  /// What one rule found: the value it replaces and the rotary it computes.
  struct Match {
    var output: ValueID
    /// The rotated tensor and its tables, the fused node's inputs.
    var x, cos, sin: ValueID
    var op: FusedRotary
  }

  static func run(_ graph: inout Graph) throws -> Int {
    let m = GraphMatching(graph)
    var edit = GraphEdit()
    for (index, node) in graph.nodes.enumerated() where node.domain.isEmpty {
      guard let match = (node.opType == "Add" ? rotation(node, m) : node.opType == "Concat" ? passThrough(node, m) : nil)
      else { continue }
      let output = graph.addValue(replacing: match.output, suffix: "__rotary")
      let rotary = Node(name: node.name + "/rotary", op: match.op, inputs: [match.x, match.cos, match.sin], outputs: [output])
      edit.insert([rotary], after: index, replacing: [(match.output, output)])
    }
    edit.apply(to: &graph)
    return edit.count
  }

  /// What the pass finds in `graph` without changing it: how many rotary embeddings, how many of
  /// them rotate only a prefix of the last axis, and how many pair neighbours (for `inspect`).
  public static func analyze(_ graph: Graph) -> (all: Int, partial: Int, interleaved: Int) {
    var matched = graph
    guard (try? Pipeline([pass, EliminateDeadNodes.pass]).run(&matched)) != nil else { return (0, 0, 0) }
    let rotaries = matched.nodes.compactMap { $0.op as? FusedRotary }
    return (rotaries.count, rotaries.filter { $0.rotaryDim != 0 }.count, rotaries.filter(\.interleaved).count)
  }

  // MARK: - Rules

  /// `rotate-half` and `rotate-every-two`: `Add(Mul(x, cos), Mul(rotate(x), sin))`.
  static func rotation(_ add: Node, _ m: GraphMatching) -> Match? {
    guard add.inputs.count == 2, let left = add.inputs[0], let right = add.inputs[1], let output = add.outputs.first else { return nil }
    for (direct, turned) in [(left, right), (right, left)] {
      guard let turnedMul = m.producer(turned), turnedMul.domain.isEmpty, turnedMul.opType == "Mul", turnedMul.inputs.count == 2,
        let directMul = m.producer(direct), directMul.domain.isEmpty, directMul.opType == "Mul", directMul.inputs.count == 2
      else { continue }
      for (rotated, sin) in operandPairs(turnedMul) {
        guard let (x, interleaved) = rotatedSource(rotated, m),
          let cos = m.otherOperand(directMul, "Mul", besides: x), tables(cos, sin, fit: x, in: m.graph)
        else { continue }
        return Match(output: output, x: x, cos: cos, sin: sin, op: FusedRotary(rotaryDim: 0, interleaved: interleaved))
      }
    }
    return nil
  }

  /// `rotary-pass-through`: `Concat(FusedRotary(x[..., :R]), x[..., R:])` along the last axis.
  static func passThrough(_ concat: Node, _ m: GraphMatching) -> Match? {
    guard let op = concat.op as? Concat, concat.inputs.count == 2, let rotatedPart = concat.inputs[0], let rest = concat.inputs[1],
      let output = concat.outputs.first, let type = m.graph.values[output].type, op.axis == -1 || op.axis == type.rank - 1,
      let rotary = m.producer(rotatedPart), let inner = rotary.op as? FusedRotary, inner.rotaryDim == 0,
      rotary.inputs.count == 3, let prefix = rotary.inputs[0], let cos = rotary.inputs[1], let sin = rotary.inputs[2],
      let (source, head) = window(prefix, m), let (restSource, tail) = window(rest, m), source == restSource,
      head.first == 0, head.step == 1, tail.step == 1, tail.first == head.count,
      let depth = m.graph.values[source].type?.dims.last?.value, tail.first + tail.count == depth
    else { return nil }
    return Match(output: output, x: source, cos: cos, sin: sin, op: FusedRotary(rotaryDim: head.count, interleaved: inner.interleaved))
  }

  // MARK: - Pieces

  /// The two orders of a binary node's operands.
  static func operandPairs(_ node: Node) -> [(ValueID, ValueID)] {
    guard let a = node.inputs[0], let b = node.inputs[1] else { return [] }
    return [(a, b), (b, a)]
  }

  /// For `Concat(Neg(x[..., h:2h]), x[..., :h])` (rotate-half) or
  /// `Reshape(Concat(Unsqueeze(Neg(x[..., 1::2]), -1), Unsqueeze(x[..., ::2], -1), -1))`
  /// (rotate-every-two): `x` and whether the pairing is interleaved.
  static func rotatedSource(_ value: ValueID, _ m: GraphMatching) -> (x: ValueID, interleaved: Bool)? {
    guard let node = m.producer(value), node.domain.isEmpty else { return nil }
    if node.opType == "Reshape", let stacked = node.inputs.first ?? nil, let (x, halves) = pairs(stacked, m, stacked: true),
      halves.first.step == 2, halves.second.step == 2, halves.first.first == 1, halves.second.first == 0,
      m.graph.values[value].type == m.graph.values[x].type
    {
      return (x, true)
    }
    guard let (x, halves) = pairs(value, m, stacked: false), halves.first.step == 1, halves.second.step == 1,
      halves.second.first == 0, halves.first.first == halves.second.count, halves.first.count == halves.second.count,
      m.graph.values[value].type == m.graph.values[x].type
    else { return nil }
    return (x, false)
  }

  /// `Concat(Neg(a), b)` along the last axis (each through an `Unsqueeze` at the new last axis
  /// when `stacked`) with `a` and `b` last-axis windows of one `x`: `x` and the two windows.
  static func pairs(_ value: ValueID, _ m: GraphMatching, stacked: Bool)
    -> (x: ValueID, halves: (first: (first: Int, count: Int, step: Int), second: (first: Int, count: Int, step: Int)))?
  {
    guard let concat = m.producer(value), let op = concat.op as? Concat, concat.inputs.count == 2,
      let type = m.graph.values[value].type, op.axis == -1 || op.axis == type.rank - 1,
      let negated = concat.inputs[0].flatMap({ stacked ? unsqueezedLast($0, m) : $0 }),
      let kept = concat.inputs[1].flatMap({ stacked ? unsqueezedLast($0, m) : $0 }),
      let neg = m.producer(negated), neg.domain.isEmpty, neg.opType == "Neg", let moved = neg.inputs.first ?? nil,
      let (x, first) = window(moved, m), let (other, second) = window(kept, m), x == other
    else { return nil }
    return (x, (first, second))
  }

  /// `x` for `Unsqueeze(x, -1)` (or at x's rank), else nil.
  static func unsqueezedLast(_ value: ValueID, _ m: GraphMatching) -> ValueID? {
    guard let node = m.producer(value), node.domain.isEmpty, node.opType == "Unsqueeze", let x = node.inputs.first ?? nil,
      let before = m.graph.values[x].type, let after = m.graph.values[value].type, after.rank == before.rank + 1,
      after.dims == before.dims + [Dim(1)]
    else { return nil }
    return x
  }

  /// The source and last-axis window of a `Slice` that cuts only the last axis.
  static func window(_ value: ValueID, _ m: GraphMatching) -> (source: ValueID, window: (first: Int, count: Int, step: Int))? {
    guard let node = m.producer(value), node.domain.isEmpty, let slice = node.op as? Slice, let source = node.inputs.first ?? nil,
      let window = slice.lastAxisWindow(m.graph.inputFacts(of: node))
    else { return nil }
    return (source, window)
  }

  /// Whether `cos` and `sin` are float tables that broadcast to `x`'s leading axes with one entry
  /// per feature of its last axis (so the graph's products keep x's shape).
  static func tables(_ cos: ValueID, _ sin: ValueID, fit x: ValueID, in graph: Graph) -> Bool {
    guard let xType = graph.values[x].type, xType.dtype == .float, let depth = xType.dims.last else { return false }
    let leading = Array(xType.dims.dropLast())
    return [cos, sin].allSatisfy { table in
      guard let type = graph.values[table].type, type.dtype == .float, type.rank >= 1, type.rank <= xType.rank,
        type.dims.last == depth
      else { return false }
      return (try? Shapes.broadcast([leading, Array(type.dims.dropLast())])) == leading
    }
  }
}
