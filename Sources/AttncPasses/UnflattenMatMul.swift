import AttncIR
import AttncTensor

/// `unflatten-matmul`: `MatMul(Reshape(x, …), w)` whose Reshape views x `[d₁, …, dⱼ, e…]` (j ≥ 2,
/// the trailing lengths e… of known product k) as `[d₁·…·dⱼ, k]`, with w `[k, n]`, becomes
/// `Reshape(MatMul(x', w), [-1, n])` where x' is x viewed as `[d₁, …, dⱼ, k]` (x itself when
/// it already is): the product keeps x's leading axes. torch.onnx's dynamo
/// exporter writes every linear layer as an `addmm` on such a 2-D view followed by a Reshape
/// back to `[d₁, …, dⱼ, n]`; with the product unflattened that pair of Reshapes cancels
/// (`remove-no-ops`), and the residual add and GELU after it join the product's fused epilogue.
///
/// A bias add between the two Reshapes (`Add(Reshape(p, [-1, n]), b)` with b `[n]` or `[1]`, as
/// Gemm's lowering writes it) moves above the first: `Reshape(Add(p, b), [-1, n])`.
public enum UnflattenMatMul {
  public static let pass = Pass("unflatten-matmul") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    let matching = GraphMatching(graph)
    var edit = GraphEdit()
    // Products on flat views.
    for (index, node) in graph.nodes.enumerated() where node.domain.isEmpty && node.opType == "MatMul" {
      guard node.inputs.count == 2, let flat = node.inputs[0], let w = node.inputs[1], let product = node.outputs.first,
        let view = matching.producer(flat), view.domain.isEmpty, view.opType == "Reshape",
        let x = view.inputs.first ?? nil, let xType = graph.values[x].type,
        let flatType = graph.values[flat].type, flatType.rank == 2, let k = flatType.dims[1].value,
        let leading = leadingAxes(xType.dims, rowLength: k), leading >= 2,
        let wType = graph.values[w].type, wType.rank == 2, let n = wType.dims[1].value,
        let productType = graph.values[product].type
      else { continue }
      let name = graph.values[product].name
      var nodes: [Node] = []
      // x with its trailing axes merged into one of length k: Reshape(x, [0, …, 0, k]) (0 keeps an axis).
      var input = x
      if leading < xType.rank - 1 {
        // A Reshape of its own: the view's may set allowzero, under which 0 is a length.
        let merge = try OpRegistry.make(domain: "", type: "Reshape", attributes: Attributes(), opset: view.opset)
        let kept = graph.addConstant(
          HostTensor(int64s: [Int64](repeating: 0, count: leading) + [Int64(k)], shape: [leading + 1]), name: name + "__rows_of_k")
        input = graph.addValue(Value(
          name: graph.freshName(name + "__input"), type: TensorType(xType.dtype, Array(xType.dims.prefix(leading)) + [Dim(k)])))
        nodes.append(Node(name: node.name + "/input", opType: "Reshape", inputs: [x, kept], outputs: [input], opset: view.opset, op: merge))
      }
      let unflattened = graph.addValue(Value(
        name: graph.freshName(name + "__unflattened"), type: TensorType(productType.dtype, Array(xType.dims.prefix(leading)) + [Dim(n)])))
      let rows = graph.addConstant(HostTensor(int64s: [-1, Int64(n)], shape: [2]), name: name + "__rows")
      let flattened = graph.addValue(replacing: product, suffix: "__flattened")
      nodes += [
        Node(name: node.name + "/unflattened", opType: "MatMul", inputs: [input, w], outputs: [unflattened], opset: node.opset, op: node.op),
        Node(name: node.name + "/rows", opType: "Reshape", inputs: [unflattened, rows], outputs: [flattened], opset: view.opset, op: view.op),
      ]
      edit.insert(nodes, after: index, replacing: [(product, flattened)])
    }
    // Bias adds between a product's Reshapes.
    for (index, node) in graph.nodes.enumerated() where node.domain.isEmpty && node.opType == "Add" {
      guard let sunk = sinkRows(node, graph: &graph, matching) else { continue }
      edit.insert(sunk.nodes, after: index, replacing: [(sunk.old, sunk.new)])
    }
    edit.apply(to: &graph)
    return edit.count
  }

  /// How many leading axes of `dims` stay when its trailing axes, all of known length, merge
  /// into one of `rowLength` (nil when no run of trailing axes multiplies to it).
  static func leadingAxes(_ dims: [Dim], rowLength: Int) -> Int? {
    var product = 1
    for axis in stride(from: dims.count - 1, through: 1, by: -1) {
      guard let length = dims[axis].value else { return nil }
      product *= length
      if product == rowLength { return axis }
      if product > rowLength { return nil }
    }
    return nil
  }

  /// For `Add(Reshape(p, [-1, n]), b)` (either operand order) with p `[…, n]` of rank ≥ 3 and b
  /// `[n]` or `[1]`: the nodes `Add(p, b)` and its Reshape by the same `[-1, n]`, and the value
  /// the latter replaces.
  static func sinkRows(_ node: Node, graph: inout Graph, _ matching: GraphMatching)
    -> (nodes: [Node], old: ValueID, new: ValueID)?
  {
    guard node.inputs.count == 2, let sum = node.outputs.first, let sumType = graph.values[sum].type else { return nil }
    for (side, other) in [(0, 1), (1, 0)] {
      guard let flat = node.inputs[side], let bias = node.inputs[other],
        let view = matching.producer(flat), view.domain.isEmpty, view.opType == "Reshape", view.inputs.count == 2,
        let p = view.inputs[0], let rows = view.inputs[1],
        let shape = graph.values[rows].constant?.int64s().map(Int.init), shape.count == 2, shape[0] == -1,
        let pType = graph.values[p].type, pType.rank >= 3, pType.dims.last == Dim(shape[1]),
        let biasType = graph.values[bias].type, biasType.rank <= 1,
        biasType.dims.allSatisfy({ $0 == Dim(1) || $0 == Dim(shape[1]) })
      else { continue }
      let name = graph.values[sum].name
      let unflattened = graph.addValue(Value(name: graph.freshName(name + "__unflattened"), type: TensorType(sumType.dtype, pType.dims)))
      let flattened = graph.addValue(replacing: sum, suffix: "__flattened")
      let inputs: [ValueID?] = side == 0 ? [p, bias] : [bias, p]
      return ([
        Node(name: node.name + "/unflattened", opType: "Add", inputs: inputs, outputs: [unflattened], opset: node.opset, op: node.op),
        Node(name: node.name + "/rows", opType: "Reshape", inputs: [unflattened, rows], outputs: [flattened], opset: view.opset, op: view.op),
      ], sum, flattened)
    }
    return nil
  }
}
