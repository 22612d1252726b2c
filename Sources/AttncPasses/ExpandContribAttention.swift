import AttncIR
import AttncTensor

/// `expand-contrib-attention`: rewrites ONNX Runtime's contrib attention ops into the standard
/// ops they stand for, so that attention matching, the cache-append fusion, the policies and the
/// variants treat them as any export's attention:
///
/// - `com.microsoft.Attention` (packed QKV weights; `unidirectional`; `past`/`present`
///   `[2, B, H, L, d]`; `attention_bias`):
///
///       qkv = input·weights + bias;  q, k, v = Split(qkv) per head
///       K = Concat(past[0], k), V = Concat(past[1], v);  present = Concat(K, V) on a new axis 0
///       Y = merge(Softmax(scale·q·Kᵀ + mask)·V)
///
/// - `com.microsoft.MultiHeadAttention` (`+MultiHead`), `com.microsoft.GroupQueryAttention`
///   (`+GroupQuery`) and `com.microsoft.RotaryEmbedding` (`+Rotary`, into ONNX's op).
///
/// Masks follow ONNX Runtime: a key mask (`[B]` lengths, `[B, L]` or `[B, S, L]`) adds
/// `mask_filter_value` to padded keys, and the causal cut removes keys past the diagonal (bottom-
/// right: a cache of `P` keys precedes the new ones). The forms `ContribAttentionForms` refuses
/// stay, and lowering names the node and the reason.
public enum ExpandContribAttention {
  public static let pass = Pass("expand-contrib-attention") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    let readers = Set(graph.nodes.flatMap { $0.inputs.compactMap { $0 } } + graph.outputs)
    return try graph.rewriteNodes { node, graph in
      let context = NodeContext(
        inputs: graph.inputFacts(of: node), outputs: node.outputs.map { graph.values[$0].type },
        isConsumed: { node.outputs.indices.contains($0) && readers.contains(node.outputs[$0]) })
      switch node.op {
      case let op as ContribAttention where ContribAttentionForms.attentionRefusal(op, context) == nil:
        return try StandardNodes.expand(node, in: &graph) { try expand(node, op, context, &$0) }
      case let op as ContribMultiHeadAttention where ContribAttentionForms.multiHeadRefusal(op, context) == nil:
        return try StandardNodes.expand(node, in: &graph) { try expandMultiHead(node, op, context, &$0) }
      case let op as GroupQueryAttention where ContribAttentionForms.groupQueryRefusal(op, context) == nil:
        return try StandardNodes.expand(node, in: &graph) { try expandGroupQuery(node, op, context, &$0) }
      case let op as ContribRotaryEmbedding where ContribAttentionForms.rotaryRefusal(op, context) == nil:
        return try StandardNodes.expand(node, in: &graph) { try expandRotary(node, op, context, &$0) }
      default:
        return nil
      }
    }
  }

  /// The output at `index` when the node has it and something reads it.
  static func consumedOutput(_ node: Node, _ index: Int, _ context: NodeContext) -> ValueID? {
    index < node.outputs.count && context.isConsumed(index) ? node.outputs[index] : nil
  }

  /// The attention of Attention and MultiHeadAttention on per-head `q, k, v` (`k` with the
  /// cache): key mask and attention bias added, the causal cut when unidirectional, heads merged
  /// into `output`.
  static func attend(
    q: ValueID, k: ValueID, v: ValueID, depth: Int, _ settings: ContribAttentionSettings, keyMask: ValueID?, bias: ValueID?,
    width: Int, into output: ValueID, _ b: inout StandardNodes
  ) throws {
    var visible = try keyMask.map { try b.paddingBias($0, keys: k, filter: settings.maskFilterValue) }
    if let bias { visible = try visible.map { try b.add("biased", "Add", [$0, bias]) } ?? bias }
    let mask = settings.unidirectional ? try b.causalBias(queries: q, keys: k, visible: visible) : visible
    let attended = try b.attend(q: q, k: k, v: v, scale: settings.scale(depth: depth), mask: mask)
    _ = try b.mergeHeads(attended, width: width, into: output)
  }

  static func expand(_ node: Node, _ op: ContribAttention, _ context: NodeContext, _ b: inout StandardNodes) throws -> Bool {
    guard let x = node.input(0), let weights = node.input(1), let width = b.type(weights)?.dims.last?.value, let output = node.outputs.first
    else { return false }
    let sizes = try op.hiddenSizes(width: width)
    let (depth, valueDepth) = (sizes[0] / op.heads, sizes[2] / op.heads)
    var qkv = try b.add("qkv", "MatMul", [x, weights])
    if let bias = node.input(2) { qkv = try b.add("qkv_bias", "Add", [qkv, bias]) }
    let parts = try b.add("split", "Split", [qkv, b.constant(sizes.map { Int64($0) }, "split")], outputs: [nil, nil, nil],
                          attributes: Attributes(["axis": .int(2)]))
    let q = try b.splitHeads(parts[0], heads: op.heads, depth: depth, "q")
    var k = try b.splitHeads(parts[1], heads: op.heads, depth: depth, "k")
    var v = try b.splitHeads(parts[2], heads: op.heads, depth: valueDepth, "v")
    if let past = node.input(4) {
      let axis0 = Attributes(["axis": .int(0)])
      let pastKeys = try b.add("past_keys", "Gather", [past, b.constant([0], shape: [], "key_index")], attributes: axis0)
      let pastValues = try b.add("past_values", "Gather", [past, b.constant([1], shape: [], "value_index")], attributes: axis0)
      k = try b.add("keys", "Concat", [pastKeys, k], attributes: Attributes(["axis": .int(2)]))
      v = try b.add("values", "Concat", [pastValues, v], attributes: Attributes(["axis": .int(2)]))
    }
    try attend(
      q: q, k: k, v: v, depth: depth, op.settings, keyMask: node.input(3), bias: node.input(5), width: sizes[2], into: output, &b)
    if let present = consumedOutput(node, 1, context) {
      let axes = b.constant([0], "present_axis")
      let keys = try b.add("present_keys", "Unsqueeze", [k, axes]), values = try b.add("present_values", "Unsqueeze", [v, axes])
      _ = try b.add("present", "Concat", [keys, values], into: present, attributes: Attributes(["axis": .int(0)]))
    }
    return true
  }
}
