import AttncIR
import AttncTensor

/// `fuse-matmul-epilogues`: folds the elementwise chain after a float32 `MatMul` into one
/// `FusedMatMul` node: scalar `Mul`/`Div` (into alpha, only before any add), up to two `Add`s of
/// values that broadcast into the product without growing it (bias, residual, attention mask),
/// then optionally `Gelu`, `Relu` or a last-axis `Softmax`. A `Mul` by a constant per-column
/// scale after a constant weight and constant addends (LayerScale: `(x·W + b)·λ` in DINOv2 and
/// CaiT) is folded into new constants `W·diag(λ)` and `b·λ`, so the residual `Add` after it joins
/// the product too. Every interior value must have one reader and
/// not be a graph output. A `QuantizedMatMul` (whose kernel finishes tiles the same way) takes
/// the same epilogue after the addends it already has, without the softmax.
public enum FuseMatMulEpilogues {
  public static let pass = Pass("fuse-matmul-epilogues") { graph in try run(&graph) }

  struct Match {
    /// The product's operands: A and B of a MatMul, or a `QuantizedMatMul`'s inputs before
    /// its addends.
    var operands: [ValueID?]
    /// The `QuantizedMatMul` being extended (nil for a MatMul).
    var quantized: QuantizedMatMul?
    var addends: [ValueID] = []
    /// Per-column factors folded into the weight and the first `scaledAddends` addends, those
    /// before the scale (LayerScale).
    var columnScale: [Float]?
    var scaledAddends = 0
    var alpha: Float = 1
    var activation = FusedMatMul.Activation.none
    var output: ValueID
    var last: Int
    /// The epilogue nodes folded in (not the MatMul).
    var nodes: [Int] = []
  }

  static func run(_ graph: inout Graph) throws -> Int {
    let matching = GraphMatching(graph)
    var matches: [Match] = []
    // Nodes already folded into an earlier match. Two products can share an epilogue node (the
    // parallel residual `(x·W₁ + b₁) + (x·W₂ + b₂)` of GPT-NeoX and Phi): the first in graph order
    // takes it, and the other's chain stops before it, so each node is replaced once.
    var claimed = Set<Int>()
    for (index, node) in graph.nodes.enumerated() {
      let found: Match?
      if node.domain.isEmpty && node.opType == "MatMul" {
        found = match(index, node, graph, matching, claimed: claimed)
      } else if let op = node.op as? QuantizedMatMul {
        found = matchQuantized(index, node, op, graph, matching, claimed: claimed)
      } else {
        found = nil
      }
      if let match = found {
        matches.append(match)
        claimed.formUnion(match.nodes)
      }
    }
    guard !matches.isEmpty else { return 0 }
    var edit = GraphEdit()
    for var match in matches {
      if let scale = match.columnScale { scaleColumns(&match, by: scale, &graph) }
      let fused = graph.addValue(replacing: match.output, suffix: "__fused")
      let op: any NamedOp = match.quantized.map {
        QuantizedMatMul(alpha: match.alpha, activation: match.activation, columns: $0.columns)
      } ?? FusedMatMul(alpha: match.alpha, activation: match.activation)
      let product = Node(
        name: graph.nodes[match.last].name + "/fused", op: op, inputs: match.operands + match.addends, outputs: [fused])
      // A fused node may read another match's output (a residual that is the previous
      // product's): `GraphEdit` then has it read the replacement.
      edit.insert([product], after: match.last, replacing: [(match.output, fused)])
    }
    edit.apply(to: &graph)
    return edit.count
  }

  /// The epilogue after MatMul `node` (at `index`), through no node of `claimed`.
  static func match(_ index: Int, _ node: Node, _ graph: Graph, _ m: GraphMatching, claimed: Set<Int>) -> Match? {
    guard node.inputs.count == 2, let a = node.inputs[0], let b = node.inputs[1],
      let product = node.outputs.first, let type = graph.values[product].type,
      type.dtype == .float, (graph.values[a].type?.rank ?? 0) >= 2, (graph.values[b].type?.rank ?? 0) >= 2
    else { return nil }
    let match = Match(operands: [a, b], output: product, last: index)
    return extend(match, from: product, type: type, graph, m, claimed: claimed)
  }

  /// The epilogue after `QuantizedMatMul` `node` beyond its own addends (no softmax).
  static func matchQuantized(
    _ index: Int, _ node: Node, _ op: QuantizedMatMul, _ graph: Graph, _ m: GraphMatching, claimed: Set<Int>
  ) -> Match? {
    guard op.activation == .none, let product = node.outputs.first, let type = graph.values[product].type,
      node.inputs.count <= QuantizedMatMul.operandCount + 2
    else { return nil }
    let operands = Array(node.inputs.prefix(QuantizedMatMul.operandCount))
    var match = Match(
      operands: operands + [ValueID?](repeating: nil, count: QuantizedMatMul.operandCount - operands.count),
      quantized: op, output: product, last: index)
    match.addends = node.inputs.dropFirst(QuantizedMatMul.operandCount).compactMap { $0 }
    match.alpha = op.alpha
    return extend(match, from: product, type: type, graph, m, claimed: claimed)
  }

  /// `match` grown along the chain of sole readers after `product`; nil when nothing joined.
  static func extend(
    _ start: Match, from product: ValueID, type: TensorType, _ graph: Graph, _ m: GraphMatching, claimed: Set<Int>
  ) -> Match? {
    var match = start
    var current = product
    while let (next, reader) = m.soleConsumer(current), !claimed.contains(next), let output = reader.outputs.first,
      reader.domain.isEmpty
    {
      if match.addends.isEmpty, let (other, c) = m.withScalar(reader, "Mul"), other == current {
        match.alpha *= c
      } else if match.addends.isEmpty, let (other, c) = m.withScalar(reader, "Div", constantSecond: true),
        other == current, c != 0
      {
        match.alpha /= c
      } else if let scale = columnScale(reader, of: current, match, type: type, graph, m) {
        match.columnScale = zip(match.columnScale ?? [Float](repeating: 1, count: scale.count), scale).map { $0 * $1 }
        match.scaledAddends = match.addends.count
      } else if match.addends.count < 2, let addend = m.otherOperand(reader, "Add", besides: current),
        let addendType = graph.values[addend].type, addendType.dtype == .float,
        (try? Shapes.broadcast([type.dims, addendType.dims])) == type.dims,
        match.quantized == nil || PackedMatMul.rowAligned(addendType.dims, type.dims)
      {
        match.addends.append(addend)
      } else if let unary = reader.op as? Unary, case .gelu(let tanh) = unary.function {
        match.activation = tanh ? .geluTanh : .gelu
      } else if let unary = reader.op as? Unary, unary.function == .relu {
        match.activation = .relu
      } else if match.quantized == nil, let softmax = reader.op as? Softmax,
        (try? Shapes.normalize(axis: softmax.axis, rank: type.rank)) == type.rank - 1
      {
        match.activation = .softmax
      } else {
        break
      }
      current = output
      match.output = output
      match.last = next
      match.nodes.append(next)
      if match.activation != .none { break }
    }
    return match.output == product ? nil : match
  }

  /// The factors of `Mul(current, c)` (`reader`) with `c` a constant over the product's last axis
  /// (n values, or one) when they can fold into the weight: a MatMul (not quantized) whose weight
  /// is a constant `[k, n]` float and whose addends so far are constants of n columns or a scalar.
  static func columnScale(_ reader: Node, of current: ValueID, _ match: Match, type: TensorType, _ graph: Graph, _ m: GraphMatching)
    -> [Float]?
  {
    guard match.quantized == nil, match.activation == .none, let n = type.dims.last?.value,
      let scale = m.otherOperand(reader, "Mul", besides: current), let c = graph.values[scale].constant,
      c.dtype == .float, c.rank <= type.rank, c.shape.dropLast().allSatisfy({ $0 == 1 }), c.count == n || c.count == 1,
      let weight = match.operands[1], let w = graph.values[weight].constant, w.dtype == .float, w.shape.count == 2,
      w.shape[1] == n,
      match.addends.allSatisfy({ addend in
        graph.values[addend].constant.map { $0.dtype == .float && $0.shape.dropLast().allSatisfy { $0 == 1 } && ($0.count == n || $0.count == 1) } ?? false
      })
    else { return nil }
    let factors = c.floats()
    return factors.count == n ? factors : [Float](repeating: factors[0], count: n)
  }

  /// `match` with its weight and addends replaced by new constants scaled per column.
  static func scaleColumns(_ match: inout Match, by scale: [Float], _ graph: inout Graph) {
    let n = scale.count
    func scaled(_ value: ValueID) -> ValueID {
      let tensor = graph.values[value].constant!, values = tensor.floats()
      // A weight [k, n] or an addend of n columns keeps its shape; a one-element addend becomes n.
      let result = values.count == 1 ? scale.map { values[0] * $0 } : values.enumerated().map { $1 * scale[$0 % n] }
      let shape = values.count == 1 ? [n] : tensor.shape
      return graph.addConstant(HostTensor(floats: result, shape: shape), name: graph.values[value].name + "_scaled")
    }
    match.operands[1] = scaled(match.operands[1]!)
    for i in 0..<match.scaledAddends { match.addends[i] = scaled(match.addends[i]) }
  }
}
