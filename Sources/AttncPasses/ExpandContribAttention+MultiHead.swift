import AttncIR
import AttncTensor

extension ExpandContribAttention {
  /// `com.microsoft.MultiHeadAttention`: Q, K and V per head (from 3-D inputs plus the bias,
  /// packed KV `[B, L, H, 2, d]`, packed QKV `[B, S, H, 3, d]`, or K and V already `[B, H, L, d]`),
  /// the cache before the new keys and values (`present = Concat(past, new)`), then `attend`.
  static func expandMultiHead(_ node: Node, _ op: ContribMultiHeadAttention, _ context: NodeContext, _ b: inout StandardNodes) throws -> Bool {
    let shape = try op.operands(context.inputs)
    guard let query = node.input(0), let output = node.outputs.first else { return false }
    let (heads, depth, valueDepth) = (op.heads, shape.depth, shape.valueDepth)
    var q: ValueID, k: ValueID, v: ValueID
    switch shape.keyForm {
    case .hidden:
      guard let key = node.input(1), let value = node.input(2) else { return false }
      var (qIn, kIn, vIn) = (query, key, value)
      if let bias = node.input(3) {
        let widths = [heads * depth, heads * depth, heads * valueDepth].map { Int64($0) }
        let parts = try b.add("bias_split", "Split", [bias, b.constant(widths, "bias_widths")], outputs: [nil, nil, nil],
                              attributes: Attributes(["axis": .int(0)]))
        qIn = try b.add("q_bias", "Add", [query, parts[0]])
        kIn = try b.add("k_bias", "Add", [key, parts[1]])
        vIn = try b.add("v_bias", "Add", [value, parts[2]])
      }
      q = try b.splitHeads(qIn, heads: heads, depth: depth, "q")
      k = try b.splitHeads(kIn, heads: heads, depth: depth, "k")
      v = try b.splitHeads(vIn, heads: heads, depth: valueDepth, "v")
    case .packed:
      guard let packed = node.input(1) else { return false }
      q = try b.splitHeads(query, heads: heads, depth: depth, "q")
      (k, v) = try unpack(packed, count: 2, &b).pair
    case .packedWithQuery:
      let parts = try unpack(query, count: 3, &b)
      (q, k, v) = (parts.all[0], parts.all[1], parts.all[2])
    case .perHead:
      guard let key = node.input(1), let value = node.input(2) else { return false }
      q = try b.splitHeads(query, heads: heads, depth: depth, "q")
      (k, v) = (key, value)
    }
    if let pastKey = node.input(6), let pastValue = node.input(7) {
      k = try b.add("keys", "Concat", [pastKey, k], into: consumedOutput(node, 1, context), attributes: Attributes(["axis": .int(2)]))
      v = try b.add("values", "Concat", [pastValue, v], into: consumedOutput(node, 2, context), attributes: Attributes(["axis": .int(2)]))
    } else {
      for (index, value) in [(1, k), (2, v)] {
        if let present = consumedOutput(node, index, context) { _ = try b.add("present_\(index)", "Identity", [value], into: present) }
      }
    }
    try attend(
      q: q, k: k, v: v, depth: depth, op.settings, keyMask: node.input(4), bias: node.input(5), width: heads * valueDepth,
      into: output, &b)
    return true
  }

  /// The `count` tensors packed on axis 3 of `[B, L, H, count, d]`, each `[B, H, L, d]`.
  static func unpack(_ packed: ValueID, count: Int, _ b: inout StandardNodes) throws -> (all: [ValueID], pair: (ValueID, ValueID)) {
    let parts = try b.add(
      "unpack", "Split", [packed, b.constant([Int64](repeating: 1, count: count), "unpack_sizes")],
      outputs: [ValueID?](repeating: nil, count: count), attributes: Attributes(["axis": .int(3)]))
    let all = try parts.enumerated().map { index, part in
      let squeezed = try b.add("unpacked_\(index)", "Squeeze", [part, b.constant([3], "unpack_axis_\(index)")])
      return try b.add("unpacked_\(index)_per_head", "Transpose", [squeezed], attributes: Attributes(["perm": .ints([0, 2, 1, 3])]))
    }
    return (all, (all[all.count - 2], all[all.count - 1]))
  }
}
