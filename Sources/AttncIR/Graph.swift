import AttncTensor

/// Index of a value in `Graph.values`.
public typealias ValueID = Int

/// A value: a graph input, an initializer (weight) or a node output.
public struct Value: Sendable {
  /// Unique name within the graph (the ONNX value name).
  public var name: String
  /// Static type; nil until shape inference has run, or when it could not be inferred
  /// (outputs of unsupported ops).
  public var type: TensorType?
  /// Data of an initializer or folded constant.
  public var constant: HostTensor?
  /// Elements of a small integer value as dims, when shape inference knows them.
  public var content: [Dim]?
  /// The declared type of a sequence, optional or map value (attnc computes on tensors only).
  public var nonTensorType: String?

  public init(name: String, type: TensorType? = nil, constant: HostTensor? = nil) {
    self.name = name
    self.type = type
    self.constant = constant
    self.content = ValueFact.contentOf(constant)
  }

  /// The fact shape rules read, if the type is known.
  public var fact: ValueFact? {
    guard let type else { return nil }
    return ValueFact(type: type, constant: constant, content: content)
  }
}

/// One operation: an ONNX node (or an attnc op) with its parsed definition.
public struct Node: Sendable {
  public var name: String
  public var domain: String
  /// The op type as written in the model (kept for unsupported ops).
  public var opType: String
  /// Input values; nil for an omitted optional input (`""` in ONNX).
  public var inputs: [ValueID?]
  public var outputs: [ValueID]
  public var attributes: Attributes
  /// The opset of this node's domain the model imports.
  public var opset: Int
  /// The parsed definition (`UnsupportedOp` for op types attnc does not know).
  public var op: any Op

  public init(
    name: String, domain: String = "", opType: String, inputs: [ValueID?], outputs: [ValueID],
    attributes: Attributes = Attributes(), opset: Int, op: any Op
  ) {
    (self.name, self.domain, self.opType) = (name, domain, opType)
    (self.inputs, self.outputs) = (inputs, outputs)
    (self.attributes, self.opset, self.op) = (attributes, opset, op)
  }

  /// A node of one of attnc's own ops, typed and placed in the domain the op states.
  public init(name: String, op: some NamedOp, inputs: [ValueID?], outputs: [ValueID], opset: Int = 1) {
    self.init(name: name, domain: type(of: op).domain, opType: type(of: op).type, inputs: inputs, outputs: outputs, opset: opset, op: op)
  }

  /// `node 'encoder/Softmax_3' (Softmax)`, the context entry errors carry.
  public var label: String { "node '\(name)' (\(opType))" }

  public var isSupported: Bool { !(op is UnsupportedOp) }
}

/// Facts about the model file that do not affect computation.
public struct ModelInfo: Sendable {
  public var irVersion: Int = 0
  /// Opset per domain (`""` is the default `ai.onnx` domain).
  public var opsets: [String: Int] = [:]
  public var producerName = ""
  public var producerVersion = ""
  public var domain = ""
  public var modelVersion: Int = 0
  public var graphName = ""
  public var docString = ""
  public var metadata: [String: String] = [:]
  public init() {}
}

/// The IR: values, nodes in topological order, graph inputs and outputs.
///
/// Invariants (checked by `verify()`): node inputs refer to graph inputs, constants or outputs of
/// earlier nodes; every value has at most one producer; names are unique.
public struct Graph: Sendable {
  public var info = ModelInfo()
  public var values: [Value] = []
  public var nodes: [Node] = []
  /// Graph inputs that are not initializers, in declaration order.
  public var inputs: [ValueID] = []
  public var outputs: [ValueID] = []
  private var nameCounter = 0

  public init() {}

  // MARK: - Building

  /// Adds a value and returns its id.
  @discardableResult
  public mutating func addValue(_ value: Value) -> ValueID {
    values.append(value)
    return values.count - 1
  }

  /// A value name not used yet, derived from `base`.
  public mutating func freshName(_ base: String) -> String {
    let existing = Set(values.map(\.name))
    var candidate = base
    while existing.contains(candidate) {
      nameCounter += 1
      candidate = "\(base)__\(nameCounter)"
    }
    return candidate
  }

  /// Adds a constant value holding `tensor`.
  @discardableResult
  public mutating func addConstant(_ tensor: HostTensor, name: String) -> ValueID {
    let id = addValue(Value(name: freshName(name), type: TensorType(tensor.dtype, tensor.shape.map { Dim($0) }), constant: tensor))
    return id
  }

  // MARK: - Queries

  /// For each value, the index in `nodes` of the node producing it.
  public func producers() -> [ValueID: Int] {
    var map: [ValueID: Int] = [:]
    for (index, node) in nodes.enumerated() {
      for output in node.outputs { map[output] = index }
    }
    return map
  }

  /// For each value, the indices of the nodes reading it (a node reading twice appears twice).
  public func consumers() -> [ValueID: [Int]] {
    var map: [ValueID: [Int]] = [:]
    for (index, node) in nodes.enumerated() {
      for case let input? in node.inputs { map[input, default: []].append(index) }
    }
    return map
  }

  /// The facts of a node's inputs.
  public func inputFacts(of node: Node) -> [ValueFact?] {
    node.inputs.map { id in id.flatMap { values[$0].fact } }
  }

  /// Op type counts, sorted by type.
  public func opCounts() -> [(type: String, count: Int)] {
    var counts: [String: Int] = [:]
    for node in nodes { counts[node.opType, default: 0] += 1 }
    return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
  }

  /// Initializers and folded constants that some node or output reads.
  public func liveConstants() -> [ValueID] {
    var used = Set(outputs)
    for node in nodes { for case let input? in node.inputs { used.insert(input) } }
    return values.indices.filter { values[$0].constant != nil && used.contains($0) }
  }

  // MARK: - Rewriting

  /// Replaces every use of `old` (node inputs and graph outputs) by `new`.
  ///
  /// A graph output keeps its name: when `old` is an output, `new` takes over the name if `new`
  /// is not itself an input or output.
  public mutating func replaceUses(of old: ValueID, with new: ValueID) {
    guard old != new else { return }
    for n in nodes.indices {
      for i in nodes[n].inputs.indices where nodes[n].inputs[i] == old {
        nodes[n].inputs[i] = new
      }
    }
    for i in outputs.indices where outputs[i] == old { outputs[i] = new }
  }
}
