import AttncIR
import AttncTensor

/// `expand-embed-layer-normalization`: rewrites ONNX Runtime's `com.microsoft.EmbedLayerNormalization`
/// into standard ops:
///
///     sum  = Gather(word, ids) + Gather(position, position_ids or Range(0, S)) [+ Gather(segment, segment_ids)]
///     out  = LayerNormalization(sum, gamma, beta, epsilon)
///     mask_index = ReduceSum(Cast(mask, int32), axis 1)      (when read; needs the mask input)
///
/// A node whose `mask_index` is read but has no mask input stays, and lowering names it.
public enum ExpandEmbedLayerNormalization {
  public static let pass = Pass("expand-embed-layer-normalization") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    let readers = Set(graph.nodes.flatMap { $0.inputs.compactMap { $0 } } + graph.outputs)
    return try graph.rewriteNodes { node, graph in
      guard let op = node.op as? EmbedLayerNormalization else { return nil }
      return try StandardNodes.expand(node, in: &graph) { try expand(node, op, readers: readers, &$0) }
    }
  }

  static func expand(_ node: Node, _ op: EmbedLayerNormalization, readers: Set<ValueID>, _ b: inout StandardNodes) throws -> Bool {
    guard let ids = node.input(0), let word = node.input(2), let position = node.input(3), let gamma = node.input(5), let output = node.outputs.first
    else { return false }
    let maskIndex = node.outputs.count > 1 ? node.outputs[1] : nil
    if let maskIndex, readers.contains(maskIndex), node.input(7) == nil { return false }
    let axis0 = Attributes(["axis": .int(0)])
    var sum = try b.add("word", "Gather", [word, ids], attributes: axis0)
    let positionIds = try node.input(8) ?? b.positions(try b.length(ids, axis: 1, "length"), "positions")
    sum = try b.add("with_position", "Add", [sum, try b.add("position", "Gather", [position, positionIds], attributes: axis0)])
    if let segments = node.input(1), let segment = node.input(4) {
      sum = try b.add("with_segment", "Add", [sum, try b.add("segment", "Gather", [segment, segments], attributes: axis0)])
    }
    if node.outputs.count > 2 { try b.add("embedding_sum", "Identity", [sum], into: node.outputs[2]) }
    let norm = Attributes(["axis": .int(-1), "epsilon": .float(op.epsilon)])
    try b.add("norm", "LayerNormalization", [sum, gamma, node.input(6)], into: output, attributes: norm)
    if let maskIndex, let mask = node.input(7) {
      let int32 = try b.add("mask_int32", "Cast", [mask], attributes: Attributes(["to": .int(Int64(DType.int32.rawValue))]))
      try b.add("mask_index", "ReduceSum", [int32, b.constant([1], "mask_axes")], into: maskIndex,
                attributes: Attributes(["keepdims": .int(0)]))
    }
    return true
  }
}
