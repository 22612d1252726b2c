import AttncIR
import AttncTensor

/// `expand-contrib-attention`: rewrites ONNX Runtime's `com.microsoft.Attention` into the
/// standard ops it stands for, so attention matching, the policies and the variants treat it as
/// any export's attention:
///
///     qkv = input·weights + bias;  q, k, v = Split(qkv)
///     Q = Transpose(Reshape(q, [0, 0, H, dq]))  (and K, V alike; Kᵀ directly)
///     Y = Reshape(Transpose(Softmax(scale·Q·Kᵀ + (1 − mask)·filter)·V), [0, 0, H·dv])
///
/// It takes the forms BERT-style exports optimized by ONNX Runtime have: float input, no
/// `past`, no `attention_bias`, no rotary, not unidirectional, and `mask_index` absent, a
/// `[B, total]` 0/1 key mask, or `[B]` key lengths (right padding: keys `j < length` visible). Any other form stays, and lowering then names the node.
public enum ExpandContribAttention {
  public static let pass = Pass("expand-contrib-attention") { graph in try run(&graph) }

  /// The standard opset the replacement nodes are built at.
  static let opset = 17

  static func run(_ graph: inout Graph) throws -> Int {
    try graph.rewriteNodes { node, graph in
      guard let op = node.op as? ContribAttention else { return nil }
      return try withContext(node.label) { try expand(node, op, in: &graph) }
    }
  }

  /// Why `node` is not rewritten, or nil when it can be.
  static func refusal(_ node: Node, _ op: ContribAttention, in graph: Graph) -> String? {
    if op.unidirectional { return "unidirectional (causal) contrib Attention is not expanded yet" }
    if op.doRotary { return "do_rotary is not expanded yet" }
    if node.outputs.count > 1 { return "the 'present' output (a KV cache) is not supported yet" }
    if node.inputs.count > 4, node.inputs[4...].contains(where: { $0 != nil }) {
      return "past, attention_bias and past_sequence_length inputs are not supported yet"
    }
    guard let x = node.inputs[0].flatMap({ graph.values[$0].type }), x.dtype == .float, x.rank == 3 else {
      return "input is not a float32 [B, S, hidden] tensor"
    }
    if node.inputs.count > 3, let mask = node.inputs[3] {
      guard let type = graph.values[mask].type, type.rank == 2 || (type.rank == 1 && type.dtype.isInteger) else {
        return "mask_index is neither a [B, total] key mask nor [B] key lengths"
      }
    }
    return nil
  }

  static func expand(_ node: Node, _ op: ContribAttention, in graph: inout Graph) throws -> [Node]? {
    guard refusal(node, op, in: graph) == nil, let input = node.inputs[0], let weights = node.inputs[1],
      let width = graph.values[weights].type?.dims.last?.value, let output = node.outputs.first
    else { return nil }
    let sizes = try op.hiddenSizes(width: width)
    let (qDepth, vDepth) = (sizes[0] / op.heads, sizes[2] / op.heads)
    var nodes: [Node] = []
    func add(_ step: String, _ type: String, _ inputs: [ValueID], into target: ValueID? = nil, attributes: Attributes = Attributes()) throws -> ValueID {
      let result = target ?? graph.addValue(Value(name: graph.freshName(node.name + "/" + step)))
      let made = try OpRegistry.make(domain: "", type: type, attributes: attributes, opset: opset)
      nodes.append(Node(name: node.name + "/" + step, opType: type, inputs: inputs, outputs: [result], attributes: attributes, opset: opset, op: made))
      return result
    }
    func constant(_ values: [Int64], _ name: String) -> ValueID {
      graph.addConstant(HostTensor(int64s: values, shape: [values.count]), name: node.name + "__" + name)
    }
    func scalar(_ value: Float, _ name: String) -> ValueID {
      graph.addConstant(HostTensor(floats: [value], shape: []), name: node.name + "__" + name)
    }
    var qkv = try add("qkv", "MatMul", [input, weights])
    if node.inputs.count > 2, let bias = node.inputs[2] { qkv = try add("qkv_bias", "Add", [qkv, bias]) }
    let parts = (0..<3).map { graph.addValue(Value(name: graph.freshName(node.name + "/" + ["q", "k", "v"][$0]))) }
    let split = Attributes(["axis": .int(2)])
    nodes.append(Node(
      name: node.name + "/split", opType: "Split", inputs: [qkv, constant(sizes.map { Int64($0) }, "split")], outputs: parts,
      attributes: split, opset: opset, op: try OpRegistry.make(domain: "", type: "Split", attributes: split, opset: opset)))
    func heads(_ value: ValueID, _ depth: Int, _ name: String, perm: [Int64]) throws -> ValueID {
      let split = try add(name + "_heads", "Reshape", [value, constant([0, 0, Int64(op.heads), Int64(depth)], name + "_shape")])
      return try add(name + "_transposed", "Transpose", [split], attributes: Attributes(["perm": .ints(perm)]))
    }
    let q = try heads(parts[0], qDepth, "q", perm: [0, 2, 1, 3])
    let kT = try heads(parts[1], qDepth, "k", perm: [0, 2, 3, 1])
    let v = try heads(parts[2], vDepth, "v", perm: [0, 2, 1, 3])
    var scores = try add("scores", "MatMul", [q, kT])
    let scale = op.scale != 0 ? op.scale : 1 / Float(qDepth).squareRoot()
    scores = try add("scaled", "Mul", [scores, scalar(scale, "scale")])
    if node.inputs.count > 3, var mask = node.inputs[3] {
      if graph.values[mask].type?.rank == 1 {
        // [B] key lengths (right padding): key j of batch b is visible where j < length[b].
        let lengthType = graph.values[mask].type?.dtype ?? .int32
        let shape = try add("input_shape", "Shape", [input])
        let total = try add("total", "Gather", [shape, graph.addConstant(HostTensor(int64s: [1], shape: []), name: node.name + "__one_index")])
        let totalTyped = try add("total_typed", "Cast", [total], attributes: Attributes(["to": .int(Int64(lengthType.rawValue))]))
        let zero = graph.addConstant(HostTensor(dtype: lengthType, shape: [], integers: [0]), name: node.name + "__zero")
        let step = graph.addConstant(HostTensor(dtype: lengthType, shape: [], integers: [1]), name: node.name + "__step")
        let positions = try add("positions", "Range", [zero, totalTyped, step])
        let row = try add("positions_row", "Unsqueeze", [positions, constant([0], "row_axes")])
        let column = try add("lengths_column", "Unsqueeze", [mask, constant([1], "column_axes")])
        mask = try add("key_mask", "Less", [row, column])
      }
      let float = try add("mask_float", "Cast", [mask], attributes: Attributes(["to": .int(Int64(DType.float.rawValue))]))
      let inverted = try add("mask_inverted", "Sub", [scalar(1, "one"), float])
      let bias = try add("mask_bias", "Mul", [inverted, scalar(op.maskFilterValue, "mask_filter")])
      let wide = try add("mask_bias_4d", "Unsqueeze", [bias, constant([1, 2], "mask_axes")])
      scores = try add("masked", "Add", [scores, wide])
    }
    let probabilities = try add("softmax", "Softmax", [scores], attributes: Attributes(["axis": .int(-1)]))
    let context = try add("context", "MatMul", [probabilities, v])
    let merged = try add("context_transposed", "Transpose", [context], attributes: Attributes(["perm": .ints([0, 2, 1, 3])]))
    _ = try add("output", "Reshape", [merged, constant([0, 0, Int64(sizes[2])], "output_shape")], into: output)
    return nodes
  }
}
