import AttncIR
import AttncTensor

extension ExpandContribAttention {
  /// `com.microsoft.GroupQueryAttention`, growing-cache form:
  ///
  ///     q, k, v = per head (a packed query split first)
  ///     q, k = RotaryEmbedding(·, cos, sin, positions)   with do_rotary; positions T − S + i
  ///     K = Concat(past_key, k), V = Concat(past_value, v)      (present_key, present_value)
  ///     Y = merge(Softmax(scale·q·repeat(K)ᵀ + attention_bias [causal cut])·repeat(V))
  ///
  /// `seqlens_k` is not read: every batch entry's cache is taken as full (`seqlens_k + 1 =
  /// P + S`, ONNX Runtime's growing cache); a prompt whose entries are right-padded gives the
  /// same rows as ONNX Runtime wherever its output is defined (a row sees only earlier keys).
  static func expandGroupQuery(
    _ node: Node, _ op: GroupQueryAttention, _ context: NodeContext, _ b: inout StandardNodes
  ) throws -> Bool {
    guard let query = node.inputs[0], let output = node.outputs.first else { return false }
    let sizes = try op.widths(context.inputs)
    var (qIn, kIn, vIn) = (query, node.input(1), node.input(2))
    if kIn == nil {
      let widths = [sizes.query, sizes.kv, sizes.kv].map { Int64($0) }
      let parts = try b.add("split", "Split", [query, b.constant(widths, "split")], outputs: [nil, nil, nil],
                            attributes: Attributes(["axis": .int(2)]))
      (qIn, kIn, vIn) = (parts[0], parts[1], parts[2])
    }
    guard let kIn, let vIn else { return false }
    var q = try b.splitHeads(qIn, heads: op.heads, depth: sizes.depth, "q")
    var k = try b.splitHeads(kIn, heads: op.kvHeads, depth: sizes.depth, "k")
    let v = try b.splitHeads(vIn, heads: op.kvHeads, depth: sizes.depth, "v")
    if op.doRotary, let cos = node.input(7), let sin = node.input(8) {
      let positions = try node.input(9) ?? rotaryPositions(query: query, total: node.input(6), &b)
      let rotary = (b.type(cos)?.dims.last?.value).map { 2 * $0 } ?? sizes.depth
      let attributes = Attributes([
        "interleaved": .int(op.rotaryInterleaved ? 1 : 0), "rotary_embedding_dim": .int(Int64(rotary < sizes.depth ? rotary : 0)),
      ])
      q = try b.add("q_rotary", "RotaryEmbedding", [q, cos, sin, positions], attributes: attributes, opset: 23)
      k = try b.add("k_rotary", "RotaryEmbedding", [k, cos, sin, positions], attributes: attributes, opset: 23)
    }
    var keys = k, values = v
    let axis2 = Attributes(["axis": .int(2)])
    if let pastKey = node.input(3), let pastValue = node.input(4) {
      keys = try b.add("keys", "Concat", [pastKey, k], into: consumedOutput(node, 1, context), attributes: axis2)
      values = try b.add("values", "Concat", [pastValue, v], into: consumedOutput(node, 2, context), attributes: axis2)
    } else {
      for (index, value) in [(1, k), (2, v)] {
        if let present = consumedOutput(node, index, context) { _ = try b.add("present_\(index)", "Identity", [value], into: present) }
      }
    }
    let groups = op.heads / op.kvHeads
    let repeatedKeys = try b.repeatHeads(keys, groups: groups, depth: sizes.depth, "repeat_k")
    let repeatedValues = try b.repeatHeads(values, groups: groups, depth: sizes.depth, "repeat_v")
    let mask = op.causal ? try b.causalBias(queries: q, keys: keys, visible: node.input(10)) : node.input(10)
    let attended = try b.attend(
      q: q, k: repeatedKeys, v: repeatedValues, scale: op.scale != 0 ? op.scale : 1 / Float(sizes.depth).squareRoot(), mask: mask)
    _ = try b.mergeHeads(attended, width: sizes.query, into: output)
    return true
  }

  /// `[B, S]` rotary positions `T − S + i` of the new tokens, `T` the total sequence length
  /// (ONNX Runtime's positions when no position_ids are given).
  static func rotaryPositions(query: ValueID, total: ValueID?, _ b: inout StandardNodes) throws -> ValueID {
    let count = try b.length(query, axis: 1, "new_length")
    var start = b.constant([0], shape: [], "first_position")
    if let total {
      let total64 = try b.add("total_length", "Cast", [total], attributes: Attributes(["to": .int(Int64(DType.int64.rawValue))]))
      start = try b.add("first_position_of_new", "Sub", [total64, count])
    }
    let row = try b.add("rotary_positions", "Add", [try b.positions(count, "rotary_index"), start])
    let wide = try b.add("rotary_positions_row", "Unsqueeze", [row, b.constant([0], "rotary_row_axis")])
    let shape = try b.add("query_shape", "Shape", [query])
    let batchAndLength = try b.add("batch_and_length", "Slice", [shape, b.constant([0], "bl_start"), b.constant([2], "bl_end")])
    return try b.add("rotary_position_ids", "Expand", [wide, batchAndLength])
  }

  /// `com.microsoft.RotaryEmbedding(input, position_ids, cos, sin)` → ONNX's
  /// `RotaryEmbedding(input, cos, sin, position_ids)` (opset 23), one start position becoming
  /// `[B, S]` positions.
  static func expandRotary(
    _ node: Node, _ op: ContribRotaryEmbedding, _ context: NodeContext, _ b: inout StandardNodes
  ) throws -> Bool {
    guard node.inputs.count == 4, let x = node.inputs[0], var positions = node.inputs[1], let cos = node.inputs[2],
      let sin = node.inputs[3], let output = node.outputs.first, let rank = b.type(x)?.rank
    else { return false }
    if b.type(positions)?.rank == 1 {
      let count = try b.length(x, axis: rank == 4 ? 2 : 1, "length")
      let row = try b.add("positions", "Add", [try b.positions(count, "index"), positions])
      let wide = try b.add("positions_row", "Unsqueeze", [row, b.constant([0], "row_axis")])
      let shape = try b.add("input_shape", "Shape", [x])
      let batch = try b.add("batch", "Slice", [shape, b.constant([0], "batch_start"), b.constant([1], "batch_end")])
      let target = try b.add("positions_shape", "Concat", [batch, b.add("length_vector", "Unsqueeze", [count, b.constant([0], "length_axis")])],
                             attributes: Attributes(["axis": .int(0)]))
      positions = try b.add("position_ids", "Expand", [wide, target])
    }
    var attributes = Attributes(["interleaved": .int(op.interleaved ? 1 : 0), "rotary_embedding_dim": .int(Int64(op.rotaryDim))])
    if rank == 3 { attributes.values["num_heads"] = .int(Int64(op.numHeads)) }
    _ = try b.add("rotary", "RotaryEmbedding", [x, cos, sin, positions], into: output, attributes: attributes, opset: 23)
    return true
  }
}
