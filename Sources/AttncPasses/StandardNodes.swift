import AttncIR
import AttncTensor

/// The standard nodes an expansion writes in place of one node (a contrib op), named after it
/// (`node/step`), at opset 17 unless asked otherwise, with the constants they read. The graph is
/// the one being rewritten, held by the builder while it expands (`expand`).
struct StandardNodes {
  let prefix: String
  var graph = Graph()
  var nodes: [Node] = []
  static let opset = 17

  /// Runs `body` on a builder holding `graph`; the nodes it built, or nil when it returns false.
  static func expand(_ node: Node, in graph: inout Graph, _ body: (inout StandardNodes) throws -> Bool) throws -> [Node]? {
    var builder = StandardNodes(prefix: node.name)
    swap(&builder.graph, &graph)
    defer { swap(&builder.graph, &graph) }
    return try withContext(node.label) { try body(&builder) } ? builder.nodes : nil
  }

  /// Appends `type(inputs)` and returns its output (`target` when given).
  @discardableResult
  mutating func add(
    _ step: String, _ type: String, _ inputs: [ValueID?], into target: ValueID? = nil, attributes: Attributes = Attributes(),
    opset: Int = StandardNodes.opset
  ) throws -> ValueID {
    try add(step, type, inputs, outputs: [target], attributes: attributes, opset: opset)[0]
  }

  /// Appends `type(inputs)` with one output per entry of `outputs` (given ones, or new values).
  mutating func add(
    _ step: String, _ type: String, _ inputs: [ValueID?], outputs: [ValueID?], attributes: Attributes = Attributes(),
    opset: Int = StandardNodes.opset
  ) throws -> [ValueID] {
    let name = prefix + "/" + step
    let results = outputs.enumerated().map { index, given in
      given ?? graph.addValue(Value(name: graph.freshName(outputs.count > 1 ? "\(name)_\(index)" : name)))
    }
    let op = try OpRegistry.make(domain: "", type: type, attributes: attributes, opset: opset)
    nodes.append(Node(name: name, opType: type, inputs: inputs, outputs: results, attributes: attributes, opset: opset, op: op))
    return results
  }

  /// An int64 constant (a vector unless `shape` says otherwise).
  mutating func constant(_ values: [Int64], shape: [Int]? = nil, _ name: String) -> ValueID {
    graph.addConstant(HostTensor(int64s: values, shape: shape ?? [values.count]), name: prefix + "__" + name)
  }

  /// A float32 scalar constant.
  mutating func scalar(_ value: Float, _ name: String) -> ValueID {
    graph.addConstant(HostTensor(floats: [value], shape: []), name: prefix + "__" + name)
  }

  /// The type of `value` as the graph knows it.
  func type(_ value: ValueID?) -> TensorType? { value.flatMap { graph.values[$0].type } }
}

extension Node {
  /// Input `index`, nil when omitted or past the end (optional trailing inputs).
  func input(_ index: Int) -> ValueID? { index < inputs.count ? inputs[index] : nil }
}
