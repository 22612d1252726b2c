import AttncIR
import AttncTensor

/// A name under which a pattern records the value it matched.
struct Capture: Hashable, Sendable {
  let name: String
  init(_ name: String) { self.name = name }
}

/// A declarative description of a subgraph, matched upward from a value through its producers.
///
/// A capture seen twice must bind the same value (so `x·sigmoid(x)` requires one `x`);
/// `commutative` two-input nodes try both operand orders; `|` tries alternatives in order;
/// `optionally("Cast")` accepts the pattern itself or wrapped in one such node. A node pattern
/// with fewer input patterns than the node has inputs leaves the rest to its `check` (the
/// `axes` input of ReduceMean-18).
indirect enum Pattern: Sendable {
  case anyValue(Capture?)
  /// A one-element floating-point constant, equal to `value` when given (`GraphMatching.near`:
  /// 1e-4 relative, or its float16 / bfloat16 rounding).
  case scalar(Capture?, value: Float?)
  case node(types: Set<String>, inputs: [Pattern], commutative: Bool, capture: Capture?, check: Check?)
  case oneOf([Pattern])

  /// Accepts a matched node, or returns why not.
  typealias Check = @Sendable (Node, Graph) -> String?

  /// This pattern, or this pattern wrapped in one `type` node (e.g. a `Cast`).
  func optionally(_ type: String) -> Pattern {
    .oneOf([self, .node(types: [type], inputs: [self], commutative: false, capture: nil, check: nil)])
  }

  static func | (lhs: Pattern, rhs: Pattern) -> Pattern { .oneOf([lhs, rhs]) }
}

/// Any value.
func any(_ capture: Capture? = nil) -> Pattern { .anyValue(capture) }

/// A scalar constant (equal to `value` when given).
func scalar(_ capture: Capture? = nil, _ value: Float? = nil) -> Pattern { .scalar(capture, value: value) }

/// A standard-domain node of `type` whose first inputs match `inputs`.
func op(_ type: String, _ inputs: Pattern..., capture: Capture? = nil, where check: Pattern.Check? = nil) -> Pattern {
  .node(types: [type], inputs: inputs, commutative: false, capture: capture, check: check)
}

/// A two-input standard-domain node of `type` whose operands match `a` and `b` in either order.
func commutative(_ type: String, _ a: Pattern, _ b: Pattern, capture: Capture? = nil) -> Pattern {
  .node(types: [type], inputs: [a, b], commutative: true, capture: capture, check: nil)
}

/// What a match bound: captured values, scalar constants, and the nodes it went through.
struct PatternMatch {
  var values: [Capture: ValueID] = [:]
  var scalars: [Capture: Float] = [:]
  /// Indices (in `graph.nodes`) of the matched nodes.
  var nodes: [Int] = []
  /// The node whose output a node pattern captured, by capture.
  var producers: [Capture: Int] = [:]

  subscript(_ capture: Capture) -> ValueID? { values[capture] }
}

/// Matches patterns against one graph.
struct PatternMatcher {
  let graph: Graph
  let producers: [ValueID: Int]

  init(_ graph: Graph) {
    self.graph = graph
    producers = graph.producers()
  }

  /// The first way `pattern` matches the subgraph producing `value`, if any.
  func match(_ pattern: Pattern, _ value: ValueID) -> PatternMatch? {
    matches(pattern, value, PatternMatch()).first
  }

  /// Every extension of `bound` under which `pattern` matches `value` (alternatives in order).
  func matches(_ pattern: Pattern, _ value: ValueID, _ bound: PatternMatch) -> [PatternMatch] {
    switch pattern {
    case .anyValue(let capture):
      return bind(capture, value, bound).map { [$0] } ?? []
    case .scalar(let capture, let expected):
      guard let constant = graph.values[value].constant, constant.count == 1, constant.dtype.isFloatingPoint,
        let element = constant.floats().first
      else { return [] }
      if let expected, !GraphMatching.near(element, expected) { return [] }
      guard var result = bind(capture, value, bound) else { return [] }
      if let capture { result.scalars[capture] = element }
      return [result]
    case .oneOf(let alternatives):
      return alternatives.flatMap { matches($0, value, bound) }
    case .node(let types, let inputs, let isCommutative, let capture, let check):
      guard let index = producers[value] else { return [] }
      let node = graph.nodes[index]
      guard node.domain.isEmpty, types.contains(node.opType), node.inputs.count >= inputs.count,
        check.map({ $0(node, graph) == nil }) ?? true, var start = bind(capture, value, bound)
      else { return [] }
      start.nodes.append(index)
      if let capture { start.producers[capture] = index }
      var orders = [Array(node.inputs.prefix(inputs.count))]
      if isCommutative && inputs.count == 2 { orders.append(orders[0].reversed()) }
      return orders.flatMap { operands -> [PatternMatch] in
        var partial = [start]
        for (pattern, operand) in zip(inputs, operands) {
          guard let operand else { return [] }
          partial = partial.flatMap { matches(pattern, operand, $0) }
          if partial.isEmpty { return [] }
        }
        return partial
      }
    }
  }

  private func bind(_ capture: Capture?, _ value: ValueID, _ bound: PatternMatch) -> PatternMatch? {
    guard let capture else { return bound }
    if let existing = bound.values[capture] { return existing == value ? bound : nil }
    var result = bound
    result.values[capture] = value
    return result
  }
}

/// A named rewrite: a pattern matched at a root value, and a rewrite that returns the nodes that
/// compute its replacement (their last output replaces the root), or nil to decline. It deletes
/// nothing: what the replaced root no longer needs is left to dead-code elimination.
struct Rule: Sendable {
  var name: String
  var pattern: Pattern
  var rewrite: @Sendable (PatternMatch, ValueID, inout Graph) throws -> [Node]?

  init(_ name: String, _ pattern: Pattern, rewrite: @escaping @Sendable (PatternMatch, ValueID, inout Graph) throws -> [Node]?) {
    self.name = name
    self.pattern = pattern
    self.rewrite = rewrite
  }

  /// A pass that applies `rules` at every node output, last node first, so that the widest match
  /// of a chain wins; a node already inside a match is not a root again in the same sweep.
  static func pass(_ name: String, _ rules: [Rule]) -> Pass {
    Pass(name) { graph in
      let matcher = PatternMatcher(graph)
      var inside = Set<Int>()
      var edit = GraphEdit()
      for index in graph.nodes.indices.reversed() where !inside.contains(index) {
        guard let root = graph.nodes[index].outputs.first else { continue }
        for rule in rules {
          guard let match = matcher.match(rule.pattern, root), inside.isDisjoint(with: match.nodes),
            let nodes = try rule.rewrite(match, root, &graph), let replacement = nodes.last?.outputs.first
          else { continue }
          inside.formUnion(match.nodes)
          edit.insert(nodes, after: index, replacing: [(root, replacement)])
          break
        }
      }
      edit.apply(to: &graph)
      return edit.count
    }
  }
}

extension Graph {
  /// A node of the standard domain whose one output has `type`, named after `base`.
  mutating func makeNode(
    _ opType: String, _ inputs: [ValueID?], attributes: Attributes = Attributes(), opset: Int,
    type: TensorType?, name base: String
  ) throws -> Node {
    let output = addValue(Value(name: freshName(base), type: type))
    let op = try OpRegistry.make(domain: "", type: opType, attributes: attributes, opset: opset)
    return Node(name: base, opType: opType, inputs: inputs, outputs: [output], attributes: attributes, opset: opset, op: op)
  }
}
