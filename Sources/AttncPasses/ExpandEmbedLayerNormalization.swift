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

  /// The standard opset the replacement nodes are built at.
  static let opset = 17

  static func run(_ graph: inout Graph) throws -> Int {
    let readers = Set(graph.nodes.flatMap { $0.inputs.compactMap { $0 } } + graph.outputs)
    return try graph.rewriteNodes { node, graph in
      guard let op = node.op as? EmbedLayerNormalization else { return nil }
      return try withContext(node.label) { try expand(node, op, readers: readers, in: &graph) }
    }
  }

  static func expand(_ node: Node, _ op: EmbedLayerNormalization, readers: Set<ValueID>, in graph: inout Graph) throws -> [Node]? {
    func input(_ index: Int) -> ValueID? { index < node.inputs.count ? node.inputs[index] : nil }
    guard let ids = input(0), let word = input(2), let position = input(3), let gamma = input(5), let output = node.outputs.first
    else { return nil }
    let maskIndex = node.outputs.count > 1 ? node.outputs[1] : nil
    if let maskIndex, readers.contains(maskIndex), input(7) == nil { return nil }
    var nodes: [Node] = []
    func add(_ step: String, _ type: String, _ inputs: [ValueID?], into target: ValueID? = nil, attributes: Attributes = Attributes()) throws -> ValueID {
      let result = target ?? graph.addValue(Value(name: graph.freshName(node.name + "/" + step)))
      let made = try OpRegistry.make(domain: "", type: type, attributes: attributes, opset: opset)
      nodes.append(Node(name: node.name + "/" + step, opType: type, inputs: inputs, outputs: [result], attributes: attributes, opset: opset, op: made))
      return result
    }
    func constant(_ values: [Int64], shape: [Int], _ name: String) -> ValueID {
      graph.addConstant(HostTensor(int64s: values, shape: shape), name: node.name + "__" + name)
    }
    let axis0 = Attributes(["axis": .int(0)])
    var sum = try add("word", "Gather", [word, ids], attributes: axis0)
    let positionIds: ValueID
    if let given = input(8) {
      positionIds = given
    } else {
      let shape = try add("ids_shape", "Shape", [ids])
      let length = try add("length", "Gather", [shape, constant([1], shape: [], "one")], attributes: axis0)
      positionIds = try add("positions", "Range", [constant([0], shape: [], "zero"), length, constant([1], shape: [], "step")])
    }
    sum = try add("with_position", "Add", [sum, try add("position", "Gather", [position, positionIds], attributes: axis0)])
    if let segments = input(1), let segment = input(4) {
      sum = try add("with_segment", "Add", [sum, try add("segment", "Gather", [segment, segments], attributes: axis0)])
    }
    if node.outputs.count > 2 { _ = try add("embedding_sum", "Identity", [sum], into: node.outputs[2]) }
    let norm = Attributes(["axis": .int(-1), "epsilon": .float(op.epsilon)])
    _ = try add("norm", "LayerNormalization", [sum, gamma, input(6)], into: output, attributes: norm)
    if let maskIndex, let mask = input(7) {
      let int32 = try add("mask_int32", "Cast", [mask], attributes: Attributes(["to": .int(Int64(DType.int32.rawValue))]))
      _ = try add("mask_index", "ReduceSum", [int32, constant([1], shape: [1], "mask_axes")], into: maskIndex,
                  attributes: Attributes(["keepdims": .int(0)]))
    }
    return nodes
  }
}
