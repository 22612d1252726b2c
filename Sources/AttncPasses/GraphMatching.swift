import AttncIR
import AttncTensor

/// Read-only lookups the fusion passes share: who produces and who reads a value, and scalar
/// constants.
struct GraphMatching {
  let graph: Graph
  let producers: [ValueID: Int]
  let consumers: [ValueID: [Int]]
  let outputs: Set<ValueID>

  init(_ graph: Graph) {
    self.graph = graph
    producers = graph.producers()
    consumers = graph.consumers()
    outputs = Set(graph.outputs)
  }

  /// The node producing `value`, if any.
  func producer(_ value: ValueID) -> Node? {
    producers[value].map { graph.nodes[$0] }
  }

  /// The only reader of `value` (nil when it has several, none, or is a graph output).
  func soleConsumer(_ value: ValueID) -> (index: Int, node: Node)? {
    guard !outputs.contains(value), let readers = consumers[value], readers.count == 1 else { return nil }
    return (readers[0], graph.nodes[readers[0]])
  }

  /// The element of a one-element floating-point constant.
  func scalar(_ value: ValueID?) -> Float? {
    guard let value, let constant = graph.values[value].constant, constant.count == 1,
      constant.dtype.isFloatingPoint, let element = constant.floats().first
    else { return nil }
    return element
  }

  /// For a standard binary `node` of `type` with a scalar constant operand: the other operand
  /// and the constant. `constantSecond` demands the constant be the right operand (Div, Pow).
  func withScalar(_ node: Node, _ type: String, constantSecond: Bool = false) -> (other: ValueID, constant: Float)? {
    guard node.domain.isEmpty, node.opType == type, node.inputs.count == 2,
      let left = node.inputs[0], let right = node.inputs[1]
    else { return nil }
    if let c = scalar(right) { return (left, c) }
    if !constantSecond, let c = scalar(left) { return (right, c) }
    return nil
  }

  /// The other operand of a two-input `node` of `type` that reads `value` once.
  func otherOperand(_ node: Node, _ type: String, besides value: ValueID) -> ValueID? {
    guard node.domain.isEmpty, node.opType == type, node.inputs.count == 2,
      let left = node.inputs[0], let right = node.inputs[1]
    else { return nil }
    if left == value && right != value { return right }
    if right == value && left != value { return left }
    return nil
  }

  /// `(past, new)` when `value` is `Concat(past, new)` of two 4-D floats along the key axis (2):
  /// the keys or values of a step on a KV cache, as exporters write them.
  func cacheParts(_ value: ValueID) -> (past: ValueID, new: ValueID)? {
    guard let node = producer(value), let concat = node.op as? Concat, node.inputs.count == 2, let past = node.inputs[0],
      let new = node.inputs[1], let type = graph.values[value].type, type.rank == 4, type.dtype == .float,
      concat.axis == 2 || concat.axis == -2
    else { return nil }
    return (past, new)
  }

  /// The cache's length when `keys` and `values` are both `cacheParts` (a step on a KV cache).
  func cacheLength(keys: ValueID, values: ValueID) -> Dim? {
    guard let parts = cacheParts(keys), cacheParts(values) != nil, let type = graph.values[parts.past].type, type.rank == 4
    else { return nil }
    return type.dims[2]
  }

  /// Whether a model's constant is `target`: within 1e-4 relative, or exactly `target` as
  /// float16 or bfloat16 store it (a widened float16 model's √2 is 1.4140625, 1.1e-4 off).
  static func near(_ value: Float, _ target: Float) -> Bool {
    abs(value - target) <= 1e-4 * abs(target)
      || value == Element.halfToFloat(Element.floatToHalf(target))
      || value == Float(bitPattern: UInt32(Element.floatToBFloat16(target)) << 16)
  }
}

/// What one sweep of a pass adds to a graph: nodes to put after given nodes, and the values
/// their outputs take over. `apply` inserts first and redirects after, so a new node that reads
/// another replaced value (a residual that is the previous product's) reads its replacement.
/// Nothing is deleted: dead-code elimination removes what the replaced values leave unread.
struct GraphEdit {
  private var inserted: [Int: [Node]] = [:]
  private var replaced: [(old: ValueID, new: ValueID)] = []
  /// How many times `insert` was called: the pass's hits.
  private(set) var count = 0

  /// Puts `nodes` after node `index` (after those already put there), and lets each `new`
  /// value take over every use of its `old` one.
  mutating func insert(_ nodes: [Node], after index: Int, replacing replacements: [(old: ValueID, new: ValueID)]) {
    inserted[index, default: []] += nodes
    replaced += replacements
    count += 1
  }

  func apply(to graph: inout Graph) {
    graph.insert(after: inserted)
    for (old, new) in replaced { graph.redirect(old, to: new) }
  }
}

extension Graph {
  /// A new value of `old`'s type, named after it with `suffix`: what replaces `old`.
  mutating func addValue(replacing old: ValueID, suffix: String) -> ValueID {
    addValue(Value(name: freshName(values[old].name + suffix), type: values[old].type))
  }

  /// Puts `inserted[i]` right after node `i`, for every `i` (indices of the current node list).
  mutating func insert(after inserted: [Int: [Node]]) {
    guard !inserted.isEmpty else { return }
    var result: [Node] = []
    result.reserveCapacity(nodes.count + inserted.count)
    for (index, node) in nodes.enumerated() {
      result.append(node)
      result.append(contentsOf: inserted[index] ?? [])
    }
    nodes = result
  }

  /// Makes `replacement` take over every use of `old`; when `old` is a graph output,
  /// `replacement` also takes its name so the model's interface is unchanged.
  mutating func redirect(_ old: ValueID, to replacement: ValueID) {
    if outputs.contains(old) {
      let name = values[old].name
      values[old].name = freshName(name + "__replaced")
      values[replacement].name = name
    }
    replaceUses(of: old, with: replacement)
  }
}
