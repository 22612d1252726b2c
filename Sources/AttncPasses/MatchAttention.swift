import AttncIR
import AttncTensor

/// `match-attention`: turns every exported softmax attention into one `FusedAttention` node.
///
/// The core is the invariant `MatMul(q, kᵀ) → [Mul|Div by a scalar] → [softcap c·tanh(·/c)] →
/// [Add mask] → Softmax(-1) → MatMul(·, v)` on `[B, H, S, ·]` tensors (with the √scale form
/// `Mul(q, c₁)`, `Mul(kᵀ, c₂)` as well). Named rules then grow it outward: `key-transpose` reads K through the transpose that
/// made `kᵀ`, `repeat-kv` reads the grouped K/V before a GQA `Unsqueeze → Expand → Reshape`, and
/// `mask-form` probes the mask (`MaskProbe`) to recognise causal and key-padding masks. Each
/// Softmax left exact is reported with the check that failed. ONNX `Attention` nodes that need
/// no KV cache, score output, window or bool mask become the same node (the others stay on the
/// reference kernel, reported likewise). Nodes are never deleted here:
/// the replaced ones become dead and `eliminate-dead-nodes` removes them.
public enum MatchAttention {
  public static let pass = Pass("match-attention") { graph in try run(&graph).matches.count }

  /// One matched attention.
  public struct Match: Sendable {
    /// The Softmax node it replaced.
    public var node: String
    /// Index among the matched attentions, in graph order.
    public var layer: Int
    public var spec: AttentionSpec
    public var queries: Dim
    public var keys: Dim
    /// When K and V are each `Concat(past, new)` along the key axis (a decoder step on a KV
    /// cache): the cache's length. Decoding steps (a few new queries) run exact over the cache
    /// (`TiledAttention.decodeRows`).
    public var cacheLength: Dim?
    public var readsCache: Bool { cacheLength != nil }
  }

  /// A Softmax left exact, with the deepest check that failed.
  public struct Declined: Sendable {
    public var node: String
    public var reason: String
  }

  public struct Report: Sendable {
    public var matches: [Match] = []
    public var declined: [Declined] = []
  }

  /// What the core and the rules found for one Softmax.
  struct Candidate {
    var softmax: Int
    var last: Int
    var output: ValueID
    var q: ValueID
    /// K as `[B, H, L, d]`, read through `keyPermutation` when set.
    var k: ValueID
    var keyPermutation: [Int]?
    var v: ValueID
    var mask: ValueID?
    /// A second additive term of the scores besides `mask` (MPNet's relative position bias:
    /// `(scaled + bias) + mask`): the two are summed into one additive bias.
    var bias: ValueID?
    var spec: AttentionSpec
    var queries: Dim
    var keys: Dim
    /// Q, K, V and the output are 3-D `[B, S, H·d]` (ONNX `Attention`).
    var foldedHeads = false
  }

  struct Decline: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
  }

  /// A named growth rule: refines the candidate or throws `Decline`.
  struct Rule {
    var name: String
    var apply: (inout Candidate, GraphMatching) throws -> Void
  }

  static let rules: [Rule] = [
    Rule(name: "key-transpose", apply: readKeyThroughTranspose),
    Rule(name: "folded-key-transpose", apply: readKeyThroughFoldedTranspose),
    Rule(name: "repeat-kv", apply: readGroupedKeysAndValues),
    Rule(name: "mask-form", apply: classifyMask),
  ]

  /// Finds every attention without changing the graph.
  public static func analyze(_ graph: Graph) -> Report {
    report(findCandidates(graph), graph)
  }

  static func report(_ outcomes: [Outcome], _ graph: Graph) -> Report {
    var report = Report()
    let matching = GraphMatching(graph)
    for outcome in outcomes {
      switch outcome {
      case .matched(let c):
        var match = Match(node: graph.nodes[c.softmax].name, layer: report.matches.count, spec: c.spec, queries: c.queries, keys: c.keys)
        if c.keyPermutation == nil { match.cacheLength = matching.cacheLength(keys: c.k, values: c.v) }
        report.matches.append(match)
      case .declined(let index, let reason):
        report.declined.append(Declined(node: graph.nodes[index].name, reason: reason))
      }
    }
    return report
  }

  /// Replaces every matched attention by a `FusedAttention` node.
  @discardableResult
  static func run(_ graph: inout Graph) throws -> Report {
    let outcomes = findCandidates(graph)
    let report = report(outcomes, graph)
    var inserted: [Int: [Node]] = [:]
    for case .matched(let candidate) in outcomes {
      inserted[candidate.last] = try replacement(candidate, &graph)
    }
    graph.insert(after: inserted)
    return report
  }

  /// The nodes computing `candidate` (a K transpose when needed, then the attention).
  static func replacement(_ candidate: Candidate, _ graph: inout Graph) throws -> [Node] {
    var nodes: [Node] = []
    var (q, k, v) = (candidate.q, candidate.k, candidate.v)
    let label = graph.nodes[candidate.softmax].name
    let spec = candidate.spec
    if candidate.foldedHeads {
      q = try splitHeads(q, heads: spec.qHeads, label + "/split_q", &nodes, &graph)
      k = try splitHeads(k, heads: spec.kvHeads, label + "/split_k", &nodes, &graph)
      v = try splitHeads(v, heads: spec.kvHeads, label + "/split_v", &nodes, &graph)
    }
    if let perm = candidate.keyPermutation {
      k = try transpose(k, perm: perm, label + "/key_transpose", &nodes, &graph)
    }
    var mask = candidate.mask
    if let bias = candidate.bias, let given = mask {
      mask = try add(bias, given, label + "/bias_and_mask", &nodes, &graph)
    }
    guard let qType = graph.values[q].type, let vType = graph.values[v].type else { return [] }
    let type = TensorType(.float, [qType.dims[0], qType.dims[1], qType.dims[2], vType.dims[3]])
    var output = graph.addValue(Value(name: graph.freshName(graph.values[candidate.output].name + "__attention"), type: type))
    nodes.append(Node(
      name: label + "/attention", op: FusedAttention(spec: spec), inputs: [q, k, v] + (mask.map { [$0] } ?? []),
      outputs: [output]))
    if candidate.foldedHeads {
      output = try mergeHeads(output, label + "/merge_heads", &nodes, &graph)
    }
    graph.redirect(candidate.output, to: output)
    return nodes
  }

  /// `[B, S, H·d]` → `Transpose(Reshape(x, [0, 0, H, d]), [0, 2, 1, 3])`.
  static func splitHeads(_ x: ValueID, heads: Int, _ name: String, _ nodes: inout [Node], _ graph: inout Graph) throws -> ValueID {
    guard let type = graph.values[x].type, let hidden = type.dims[2].value else { return x }
    let split = try reshape(x, to: [0, 0, Int64(heads), Int64(hidden / heads)], dims: [type.dims[0], type.dims[1], Dim(heads), Dim(hidden / heads)], name, &nodes, &graph)
    return try transpose(split, perm: [0, 2, 1, 3], name + "/transpose", &nodes, &graph)
  }

  /// `[B, H, S, d]` → `Reshape(Transpose(y, [0, 2, 1, 3]), [0, 0, H·d])`.
  static func mergeHeads(_ y: ValueID, _ name: String, _ nodes: inout [Node], _ graph: inout Graph) throws -> ValueID {
    guard let type = graph.values[y].type, let heads = type.dims[1].value, let depth = type.dims[3].value else { return y }
    let swapped = try transpose(y, perm: [0, 2, 1, 3], name + "/transpose", &nodes, &graph)
    return try reshape(swapped, to: [0, 0, Int64(heads * depth)], dims: [type.dims[0], type.dims[2], Dim(heads * depth)], name, &nodes, &graph)
  }

  static func reshape(_ x: ValueID, to shape: [Int64], dims: [Dim], _ name: String, _ nodes: inout [Node], _ graph: inout Graph) throws -> ValueID {
    let target = graph.addConstant(HostTensor(dtype: .int64, shape: [shape.count], integers: shape), name: name + "/shape")
    let output = graph.addValue(Value(name: graph.freshName(name), type: TensorType(.float, dims)))
    nodes.append(Node(name: name, opType: "Reshape", inputs: [x, target], outputs: [output], opset: 14,
                      op: try Reshape(attributes: Attributes(), opset: 14)))
    return output
  }

  /// `Add(a, b)` of two float32 values, appended to `nodes`.
  static func add(_ a: ValueID, _ b: ValueID, _ name: String, _ nodes: inout [Node], _ graph: inout Graph) throws -> ValueID {
    guard let aType = graph.values[a].type, let bType = graph.values[b].type else {
      throw AttncError.invalid("node '\(name)': the scores' bias and mask have no types")
    }
    let dims = try Shapes.broadcast([aType.dims, bType.dims])
    let output = graph.addValue(Value(name: graph.freshName(name), type: TensorType(.float, dims)))
    nodes.append(Node(name: name, opType: "Add", inputs: [a, b], outputs: [output], opset: 14,
                      op: try OpRegistry.make(domain: "", type: "Add", attributes: Attributes(), opset: 14)))
    return output
  }

  /// `Transpose(x, perm)`, appended to `nodes`.
  static func transpose(_ x: ValueID, perm: [Int], _ name: String, _ nodes: inout [Node], _ graph: inout Graph) throws -> ValueID {
    guard let type = graph.values[x].type else { return x }
    let attributes = Attributes(["perm": .ints(perm.map { Int64($0) })])
    let output = graph.addValue(Value(name: graph.freshName(name), type: TensorType(type.dtype, perm.map { type.dims[$0] })))
    nodes.append(Node(name: name, opType: "Transpose", inputs: [x], outputs: [output], attributes: attributes, opset: 13,
                      op: try Transpose(attributes: attributes, opset: 13)))
    return output
  }

  enum Outcome {
    case matched(Candidate)
    case declined(index: Int, reason: String)
  }

  static func findCandidates(_ graph: Graph) -> [Outcome] {
    let matching = GraphMatching(graph)
    var results: [Outcome] = []
    for (index, node) in graph.nodes.enumerated() where node.domain.isEmpty && (node.opType == "Softmax" || node.op is Attention) {
      do {
        var candidate = try node.op is Attention ? standardAttention(index, node, matching) : core(index, node, matching)
        for rule in rules { try rule.apply(&candidate, matching) }
        results.append(.matched(candidate))
      } catch let decline as Decline {
        results.append(.declined(index: index, reason: decline.reason))
      } catch {
        results.append(.declined(index: index, reason: "\(error)"))
      }
    }
    return results
  }

  // MARK: - The core

  static func core(_ index: Int, _ node: Node, _ m: GraphMatching) throws -> Candidate {
    let graph = m.graph
    guard let softmax = node.op as? Softmax, let input = node.inputs.first ?? nil, let probabilities = node.outputs.first,
      let type = graph.values[input].type
    else { throw Decline("Softmax without a typed input") }
    guard type.rank == 4, type.dtype == .float else {
      throw Decline("scores are \(type), not float32 [B, H, S, L]")
    }
    guard !softmax.coercesTo2D || softmax.axis == 3 || softmax.axis == -1, (try? Shapes.normalize(axis: softmax.axis, rank: 4)) == 3 else {
      throw Decline("softmax over axis \(softmax.axis), not the key axis")
    }
    // The probabilities, or SDPA's guard `Where(IsNaN(p), 0, p)` of them, feed one MatMul.
    guard let read = NaNGuard.guardedValue(probabilities, m), let (last, product) = m.soleConsumer(read),
      product.domain.isEmpty, product.opType == "MatMul", product.inputs.first == read, let v = product.inputs[1],
      let output = product.outputs.first
    else {
      throw Decline("the probabilities are not used once (or through one NaN guard), as the left operand of a MatMul")
    }
    // Scores: [mask +] scale · MatMul(q, kᵀ).
    guard let scoresNode = m.producer(input) else { throw Decline("the scores have no producer") }
    var mask: ValueID?
    var bias: ValueID?
    var scaled = input
    if scoresNode.domain.isEmpty, scoresNode.opType == "Add", m.soleConsumer(input) != nil {
      let operands = scoresNode.inputs.compactMap { $0 }
      guard operands.count == 2 else { throw Decline("mask Add without two operands") }
      if let side = operands.firstIndex(where: { leadsToProduct($0, m) }) {
        scaled = operands[side]
        mask = operands[1 - side]
      } else if let side = operands.indices.first(where: { biasedProduct(operands[$0], m) != nil }),
        let (product, positionBias) = biasedProduct(operands[side], m)
      {
        scaled = product
        bias = positionBias
        mask = operands[1 - side]
      } else {
        throw Decline("neither operand of the mask Add '\(scoresNode.name)' is a scaled Q·Kᵀ product")
      }
    }
    var scale: Float = 1
    var current = scaled
    // Softcapping of the scaled scores before the mask (Gemma 2): c·tanh(s / c).
    var softcap: Float = 0
    if let (inner, cap) = Softcap.capped(scaled, m) {
      guard m.soleConsumer(scaled) != nil else { throw Decline("the softcapped scores '\(graph.values[scaled].name)' are used more than once") }
      softcap = cap
      current = inner
    }
    while let producer = m.producer(current), producer.domain.isEmpty, producer.opType != "MatMul" {
      guard m.soleConsumer(current) != nil else { throw Decline("'\(graph.values[current].name)' is used more than once") }
      if let (other, c) = m.withScalar(producer, "Mul") {
        scale *= c
        current = other
      } else if let (other, c) = m.withScalar(producer, "Div", constantSecond: true), c != 0 {
        scale /= c
        current = other
      } else {
        throw Decline("'\(producer.name)' (\(producer.opType)) between Q·Kᵀ and the softmax is not a scalar scale or one mask Add")
      }
    }
    guard let matmul = m.producer(current), matmul.opType == "MatMul", matmul.domain.isEmpty, m.soleConsumer(current) != nil,
      var q = matmul.inputs[0], var keyT = matmul.inputs[1]
    else { throw Decline("no single-use MatMul(q, kᵀ) before the softmax") }
    // √scale on both operands (ViT, some SDPA exports).
    if let producer = m.producer(q), m.soleConsumer(q) != nil, let (other, c) = m.withScalar(producer, "Mul") {
      scale *= c
      q = other
    }
    if let producer = m.producer(keyT), m.soleConsumer(keyT) != nil, let (other, c) = m.withScalar(producer, "Mul") {
      scale *= c
      keyT = other
    }
    guard scale.isFinite, scale > 0 else { throw Decline("the score scale \(scale) is not positive and finite") }
    guard let qType = graph.values[q].type, let kType = graph.values[keyT].type, let vType = graph.values[v].type,
      qType.rank == 4, kType.rank == 4, vType.rank == 4, qType.dtype == .float, kType.dtype == .float, vType.dtype == .float
    else { throw Decline("Q, Kᵀ and V are not all float32 of rank 4") }
    guard let heads = qType.dims[1].value, let depth = qType.dims[3].value, let kHeads = kType.dims[1].value,
      let vHeads = vType.dims[1].value, let valueDepth = vType.dims[3].value
    else { throw Decline("head counts or head sizes are symbolic: Q \(qType.dims.shapeDescription), V \(vType.dims.shapeDescription)") }
    guard kHeads == heads, vHeads == heads, kType.dims[2] == qType.dims[3] else {
      throw Decline("Q \(qType.dims.shapeDescription), Kᵀ \(kType.dims.shapeDescription) and V \(vType.dims.shapeDescription) are not per-head [B, H, S, d], [B, H, d, L], [B, H, L, dv]")
    }
    for term in [mask, bias].compactMap({ $0 }) {
      let scores = [qType.dims[0], Dim(heads), qType.dims[2], kType.dims[3]]
      guard let termType = graph.values[term].type, termType.dtype == .float, termType.rank <= 4,
        (try? Shapes.broadcast([scores, termType.dims])) == scores
      else {
        throw Decline("the mask \(graph.values[term].type.map { "\($0)" } ?? "(untyped)") does not broadcast into the scores \(scores.shapeDescription)")
      }
    }
    var spec = AttentionSpec(
      qHeads: heads, kvHeads: heads, headDim: depth, valueDim: valueDepth, scale: scale, mask: mask == nil ? .none : .bias, softcap: softcap)
    spec.zeroNaNRows = read != probabilities
    return Candidate(
      softmax: index, last: last, output: output, q: q, k: keyT, keyPermutation: [0, 1, 3, 2], v: v, mask: mask, bias: bias,
      spec: spec, queries: qType.dims[2], keys: kType.dims[3])
  }

  /// An ONNX `Attention` node that needs no cache, score output, window or bool mask, with
  /// 4-D float32 Q, K, V: the same computation as a `FusedAttention`.
  static func standardAttention(_ index: Int, _ node: Node, _ m: GraphMatching) throws -> Candidate {
    let graph = m.graph
    guard let op = node.op as? Attention, let q = node.inputs[0], let k = node.inputs[1], let v = node.inputs[2],
      let output = node.outputs.first
    else { throw Decline("Attention without Q, K, V") }
    guard node.inputs.count <= 4 || node.inputs[4...].allSatisfy({ $0 == nil }) else {
      throw Decline("Attention with a KV cache or nonpad_kv_seqlen stays on the reference kernel")
    }
    guard node.outputs.dropFirst().allSatisfy({ m.consumers[$0] == nil && !m.outputs.contains($0) }) else {
      throw Decline("Attention whose present K/V or scores are used stays on the reference kernel")
    }
    guard op.leftWindow < 0, op.rightWindow < 0, op.softmaxPrecision == nil || op.softmaxPrecision == .float else {
      throw Decline("Attention with a sliding window or a softmax precision stays on the reference kernel")
    }
    guard let q3 = graph.values[q].type, let k3 = graph.values[k].type, let v3 = graph.values[v].type,
      [q3, k3, v3].allSatisfy({ $0.dtype == .float }), q3.rank == k3.rank, k3.rank == v3.rank
    else { throw Decline("Attention on non-float32 Q, K, V stays on the reference kernel") }
    // 3-D operands [B, S, H·d] are read per head ([B, H, S, d]) through a Reshape and Transpose.
    let folded = q3.rank == 3
    guard let qType = perHead(q3, heads: op.qHeads), let kType = perHead(k3, heads: op.kvHeads),
      let vType = perHead(v3, heads: op.kvHeads)
    else { throw Decline("Q, K, V are not 4-D, or 3-D with q_num_heads and kv_num_heads dividing their hidden sizes") }
    guard let heads = qType.dims[1].value, let kvHeads = kType.dims[1].value, let depth = qType.dims[3].value,
      let valueDepth = vType.dims[3].value, kvHeads > 0, heads % kvHeads == 0
    else { throw Decline("head counts or sizes are symbolic") }
    // Without a cache, ONNX aligns the causal mask top-left (query i sees keys j ≤ i); the
    // spec's bottom-right alignment agrees only when S = L.
    guard !op.isCausal || qType.dims[2] == kType.dims[2] else {
      throw Decline("causal Attention with \(qType.dims[2]) queries and \(kType.dims[2]) keys (top-left aligned) stays on the reference kernel")
    }
    var mask: ValueID?
    if node.inputs.count > 3, let given = node.inputs[3] {
      let scores = [qType.dims[0], Dim(heads), qType.dims[2], kType.dims[2]]
      guard let maskType = graph.values[given].type, maskType.dtype == .float, maskType.rank <= 4,
        (try? Shapes.broadcast([scores, maskType.dims])) == scores
      else { throw Decline("a boolean or short attn_mask stays on the reference kernel") }
      mask = given
    }
    let spec = AttentionSpec(
      qHeads: heads, kvHeads: kvHeads, headDim: depth, valueDim: valueDepth, scale: op.scale ?? 1 / Float(depth).squareRoot(),
      causal: op.isCausal, mask: mask == nil ? .none : .bias, softcap: op.softcap)
    return Candidate(
      softmax: index, last: index, output: output, q: q, k: k, keyPermutation: nil, v: v, mask: mask, spec: spec,
      queries: qType.dims[2], keys: kType.dims[2], foldedHeads: folded)
  }

  /// The `[B, H, S, d]` type of a 4-D operand, or of a 3-D `[B, S, H·d]` one split into `heads`.
  static func perHead(_ type: TensorType, heads: Int?) -> TensorType? {
    if type.rank == 4 { return type }
    guard type.rank == 3, let heads, heads > 0, let hidden = type.dims[2].value, hidden % heads == 0 else { return nil }
    return TensorType(type.dtype, [type.dims[0], Dim(heads), type.dims[1], Dim(hidden / heads)])
  }

  /// True when `value` is (a softcap of) a scalar scaling of a MatMul product.
  static func leadsToProduct(_ value: ValueID, _ m: GraphMatching) -> Bool {
    var current = Softcap.capped(value, m)?.scores ?? value
    while let producer = m.producer(current), producer.domain.isEmpty {
      if producer.opType == "MatMul" { return true }
      if let (other, _) = m.withScalar(producer, "Mul") ?? m.withScalar(producer, "Div", constantSecond: true) {
        current = other
      } else {
        return false
      }
    }
    return false
  }

  // MARK: - Rules

  /// `(product, bias)` when `value` is `Add(product, bias)` read once, `product` a (softcapped)
  /// scaled Q·Kᵀ and `bias` not: an additive term such as a relative position bias.
  static func biasedProduct(_ value: ValueID, _ m: GraphMatching) -> (product: ValueID, bias: ValueID)? {
    guard m.soleConsumer(value) != nil, let node = m.producer(value), node.domain.isEmpty, node.opType == "Add",
      node.inputs.count == 2, let left = node.inputs[0], let right = node.inputs[1]
    else { return nil }
    switch (leadsToProduct(left, m), leadsToProduct(right, m)) {
    case (true, false): return (left, right)
    case (false, true): return (right, left)
    default: return nil
    }
  }

  /// `key-transpose`: when `kᵀ` is itself a Transpose, read K from its input with the composed
  /// permutation (none at all when they cancel).
  static func readKeyThroughTranspose(_ c: inout Candidate, _ m: GraphMatching) throws {
    guard let swap = c.keyPermutation, let producer = m.producer(c.k), let transpose = producer.op as? Transpose,
      let source = producer.inputs.first ?? nil, let perm = try? transpose.permutation(4)
    else { return }
    let composed = swap.map { perm[$0] }
    c.k = source
    c.keyPermutation = composed == [0, 1, 2, 3] ? nil : composed
  }

  /// `folded-key-transpose`: the dynamo exporter's SDPA transposes K as
  /// `Reshape(Transpose(Reshape(K, [B·H, L, d]), [0, 2, 1]), [B, H, d, L])`; read K itself.
  /// The types prove it: folding `[B, H, L, d]` to rank 3 with `L, d` kept merges `B, H`, and
  /// unfolding `[B·H, d, L]` to `[B, H, d, L]` splits them back.
  static func readKeyThroughFoldedTranspose(_ c: inout Candidate, _ m: GraphMatching) throws {
    let graph = m.graph
    guard c.keyPermutation == [0, 1, 3, 2], let unfold = m.producer(c.k), unfold.domain.isEmpty, unfold.opType == "Reshape",
      let swapped = unfold.inputs.first ?? nil, let transpose = m.producer(swapped), let op = transpose.op as? Transpose,
      (try? op.permutation(3)) == [0, 2, 1], let folded = transpose.inputs.first ?? nil, let fold = m.producer(folded),
      fold.domain.isEmpty, fold.opType == "Reshape", let key = fold.inputs.first ?? nil,
      let keyType = graph.values[key].type, let foldedType = graph.values[folded].type,
      let keyTType = graph.values[c.k].type, keyType.rank == 4, foldedType.rank == 3, keyTType.rank == 4,
      foldedType.dims[1] == keyType.dims[2], foldedType.dims[2] == keyType.dims[3],
      keyTType.dims == [keyType.dims[0], keyType.dims[1], keyType.dims[3], keyType.dims[2]]
    else { return }
    c.k = key
    c.keyPermutation = nil
  }

  /// `repeat-kv`: K and V of `H` heads built from `Hkv` heads by `Unsqueeze(x, 2) → Expand →
  /// Reshape` are read as `x` (GQA/MQA without the repeat).
  static func readGroupedKeysAndValues(_ c: inout Candidate, _ m: GraphMatching) throws {
    guard c.keyPermutation == nil, let key = groupedSource(c.k, m), let value = groupedSource(c.v, m),
      key.heads == value.heads
    else { return }
    c.k = key.source
    c.v = value.source
    c.spec.kvHeads = key.heads
  }

  /// For a `[B, H, L, d]` value made by repeating `[B, Hkv, L, d]` heads: the source and `Hkv`.
  static func groupedSource(_ value: ValueID, _ m: GraphMatching) -> (source: ValueID, heads: Int)? {
    let graph = m.graph
    guard let reshape = m.producer(value), reshape.opType == "Reshape", let expanded = reshape.inputs.first ?? nil,
      let expand = m.producer(expanded), expand.opType == "Expand", let unsqueezed = expand.inputs.first ?? nil,
      let unsqueeze = m.producer(unsqueezed), unsqueeze.opType == "Unsqueeze", let source = unsqueeze.inputs.first ?? nil,
      let sourceType = graph.values[source].type, let unsqueezedType = graph.values[unsqueezed].type,
      let expandedType = graph.values[expanded].type, let outputType = graph.values[value].type,
      sourceType.rank == 4, unsqueezedType.rank == 5, expandedType.rank == 5,
      unsqueezedType.dims == [sourceType.dims[0], sourceType.dims[1], Dim(1), sourceType.dims[2], sourceType.dims[3]],
      let groups = sourceType.dims[1].value, let repeats = expandedType.dims[2].value,
      expandedType.dims == [sourceType.dims[0], sourceType.dims[1], Dim(repeats), sourceType.dims[2], sourceType.dims[3]],
      outputType.dims == [sourceType.dims[0], Dim(groups * repeats), sourceType.dims[2], sourceType.dims[3]]
    else { return nil }
    return (source, groups)
  }

  /// `mask-form`: replaces a probed causal / key-padding mask by the spec's mask kind.
  static func classifyMask(_ c: inout Candidate, _ m: GraphMatching) throws {
    // A mask summed with another bias stays additive: the sum is what the kernel reads.
    guard let mask = c.mask, c.bias == nil else { return }
    var reason = ""
    guard let finding = MaskProbe.classify(mask, in: m.graph, declined: &reason) else { return }
    // A padding mask over other positions than the keys (a fixed number of pooled pseudo-keys
    // whose weights the mask derives from `attention_mask`) stays the additive mask the model
    // computes. (A cache's mask length is its own symbol, which the probe binds to the keys'.)
    if let padding = finding.padding, let length = m.graph.values[padding].type?.dims.last, length != c.keys,
      length.isConstant || c.keys.isConstant
    { return }
    c.spec.causal = c.spec.causal || finding.causal
    // What the mask adds past the diagonal: rows that see only masked keys are recomputed over
    // every key with it, as the model computes them (also when the mask stays an additive bias).
    if finding.causal { c.spec.causalFill = finding.causalFill }
    guard finding.explained else { return }
    if let padding = finding.padding {
      c.mask = padding
      c.spec.mask = .keyPadding
      c.spec.maskFill = finding.fill
    } else {
      c.mask = nil
      c.spec.mask = .none
    }
  }
}
