import AttncIR
import AttncKernels
import AttncTensor

/// `merge-tokens`: token merging between transformer blocks (ToMe; `docs/token-merging.md`).
///
/// 1. **Blocks**: each matched attention's block is found on the residual stream: from the
///    attention's output, a single-consumer chain leads to the residual `Add` (its other operand
///    an ancestor of the attention's queries); the merge point is that sum (pre-norm) or the norm
///    right after it when the sum feeds nothing else (post-norm): the value both the MLP and the
///    next residual read.
/// 2. **Merge**: a `TokenMerge` node after each merge point with `r > 0` (metric: the block's
///    keys) takes over every use of it. The first merge reads the model's key-padding mask so
///    padding tokens stay out of matching; later attentions take the running sizes as per-key
///    weights (`key_weights`: proportional attention, size 0 = padding masked).
/// 3. **Proof**: every node downstream of a merge is checked to act per token — the token axis is
///    tracked through elementwise ops (other operands must broadcast along it), matrix products
///    with a weight, norms and softmaxes over other axes, transposes, reshapes that keep the
///    leading axes up to the token axis (their target's token entry is rewritten to the merged
///    length), attention (its Q, K, V at one merge level), and a class-token `Gather` of
///    position 0 (never merged). Any other op reading a merged value gets a `TokenUnmerge` in
///    front (when the token axis is 1), as do the graph outputs. Anything else refuses with the
///    reason, and the graph is left alone.
public enum MergeTokens {
  /// Why a graph cannot be merged (shown by `inspect` and `convert`).
  public struct Refusal: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
  }

  /// One transformer block as the pass sees it.
  public struct Block: Sendable {
    /// The attention layer number (graph order of `FusedAttention` nodes).
    public var layer: Int
    public var attentionNode: String
    /// The attention's K (`[B, H, N, d]`): the matching metric.
    public var keys: ValueID
    /// The residual-stream value between attention and MLP, where tokens merge.
    public var mergePoint: ValueID
  }

  /// What `apply` did.
  public struct Report: Sendable {
    /// `r` actually merged in each block (clamped to what a fixed length allows).
    public var rates: [Int]
    /// Per attention layer: its key length after merging (`seq - 16`, `49`).
    public var lengths: [Dim]
    /// Nodes added: merges, unmerges, reshape targets.
    public var merges: Int
    public var unmerges: Int
  }

  /// The blocks of a matched graph, one per attention in layer order.
  /// - Throws: `Refusal` when an attention is causal or its block does not have the residual form.
  public static func blocks(_ graph: Graph) throws(Refusal) -> [Block] {
    let producers = graph.producers(), consumers = graph.consumers()
    var blocks: [Block] = []
    for node in graph.nodes {
      guard let op = node.op as? FusedAttention else { continue }
      let layer = blocks.count
      if op.spec.causal {
        throw Refusal("layer \(layer) (\(node.name)) is causal: merging tokens mixes positions, so decoders cannot merge")
      }
      guard node.inputs.count >= 3, let q = node.inputs[0], let k = node.inputs[1] else {
        throw Refusal("layer \(layer) (\(node.name)) has no Q and K inputs")
      }
      let ancestors = ancestorValues(of: q, graph, producers)
      var value = node.outputs[0]
      var residual: Int?
      for _ in 0..<24 {
        guard let uses = consumers[value], uses.count == 1 else { break }
        let next = graph.nodes[uses[0]]
        if let binary = next.op as? Binary, binary.function == .add,
          let other = next.inputs.first(where: { $0 != value }) ?? nil,
          graph.values[other].constant == nil, ancestors.contains(other)
        {
          residual = uses[0]
          break
        }
        guard next.outputs.count == 1 else { break }
        value = next.outputs[0]
      }
      guard let residual else {
        throw Refusal("layer \(layer) (\(node.name)): no residual Add found after the attention (expected x + proj(attention(x)))")
      }
      var mergePoint = graph.nodes[residual].outputs[0]
      if let uses = consumers[mergePoint], uses.count == 1,
        ["LayerNormalization", "RMSNormalization"].contains(graph.nodes[uses[0]].opType)
      {
        mergePoint = graph.nodes[uses[0]].outputs[0]
      }
      blocks.append(Block(layer: layer, attentionNode: node.name, keys: k, mergePoint: mergePoint))
    }
    return blocks
  }

  /// Inserts the merges `rates` (one `r` per block; missing = 0) asks for and proves the rest of
  /// the graph per token. `insertingEmptyMerges` puts a merge of `r = 0` in every block instead
  /// of leaving them out (tests: the machinery alone must be the identity).
  /// - Throws: `Refusal` (the graph is unchanged); shape errors after the rewrite as `Refusal`
  ///   too, naming the node.
  @discardableResult
  public static func apply(_ rates: [Int], to graph: inout Graph, insertingEmptyMerges: Bool = false) throws(Refusal) -> Report {
    var work = graph
    let found = try blocks(work)
    guard !found.isEmpty else { throw Refusal("no matched attention: nothing to merge around") }
    let attentions = work.nodes.indices.filter { work.nodes[$0].op is FusedAttention }
    var applied = found.indices.map { $0 < rates.count ? max(0, rates[$0]) : 0 }
    let merging = { (r: Int) in r > 0 || insertingEmptyMerges }
    guard let firstMerging = applied.firstIndex(where: merging) else {
      return Report(rates: applied, lengths: lengths(work), merges: 0, unmerges: 0)
    }
    // Masks: the first merge reads the padding mask; every later attention gets the sizes.
    var padding: ValueID?
    for (layer, index) in attentions.enumerated() where layer >= firstMerging {
      let spec = (work.nodes[index].op as! FusedAttention).spec
      switch spec.mask {
      case .none: break
      case .keyPadding:
        let mask = work.nodes[index].inputs[3]
        if padding == nil { padding = mask } else if padding != mask {
          throw Refusal("layers \(firstMerging) and \(layer) read different padding masks")
        }
      case .bias, .keyWeights:
        throw Refusal("layer \(layer) (\(work.nodes[index].name)) has an additive mask (\(spec.mask.rawValue)), which merged tokens cannot carry")
      }
    }
    // Fixed lengths: clamp each r to what the block may merge (ToMe's r ≤ (N − protected)/2).
    let baseLength = work.values[found[firstMerging].mergePoint].type?.dims[1] ?? .symbol("seq")
    var length = baseLength
    for block in found.indices {
      if let n = length.value { applied[block] = min(applied[block], max(0, (n + 1) / 2 - 1)) }
      length = length - Dim(applied[block])
    }

    // Insert the merges.
    var inserted: [Int: [Node]] = [:]
    var sizes: ValueID?, origin: ValueID?
    var mergeNodes: Set<String> = []
    let producers = work.producers()
    var sizesBefore: [Int: ValueID] = [:]  // attention layer → the sizes its keys carry
    for (layer, block) in found.enumerated() {
      if let sizes { sizesBefore[layer] = sizes }
      guard merging(applied[layer]) else { continue }
      guard let at = producers[block.mergePoint] else { throw Refusal("layer \(layer): the merge point is not computed by a node") }
      let name = "\(block.attentionNode)/token_merge"
      // Placeholder types (the token axis where it was); shape inference settles them below.
      guard let type = work.values[block.mergePoint].type, type.rank == 3 else {
        throw Refusal("layer \(layer): the residual stream is not a [B, N, D] tensor")
      }
      let x = work.addValue(Value(name: work.freshName(name + "/x"), type: type))
      let newSizes = work.addValue(Value(name: work.freshName(name + "/sizes"), type: TensorType(.float, Array(type.dims.prefix(2)))))
      let newOrigin = work.addValue(Value(name: work.freshName(name + "/origin"), type: TensorType(.int64, Array(type.dims.prefix(2)))))
      let inputs: [ValueID?] = [block.mergePoint, block.keys, sizes, origin, sizes == nil ? padding : nil]
      var trimmed = inputs
      while let last = trimmed.last, last == nil { trimmed.removeLast() }
      let node = Node(
        name: name, op: TokenMergeOp(r: applied[layer]), inputs: trimmed, outputs: [x, newSizes, newOrigin])
      work.replaceUses(of: block.mergePoint, with: x)
      inserted[at, default: []].append(node)
      mergeNodes.insert(name)
      (sizes, origin) = (newSizes, newOrigin)
    }
    work.insert(after: inserted)
    // Later attentions weigh keys by size.
    var layer = 0
    for index in work.nodes.indices where work.nodes[index].op is FusedAttention {
      defer { layer += 1 }
      guard let weights = sizesBefore[layer] else { continue }
      var op = work.nodes[index].op as! FusedAttention
      op.spec.mask = .keyWeights
      op.spec.maskFill = 0
      work.nodes[index].op = op
      work.nodes[index].inputs = Array(work.nodes[index].inputs.prefix(3)) + [weights]
    }
    let unmerges = try proveAndFix(&work, mergeNodes: mergeNodes)
    do {
      try InferShapes.run(&work)
      _ = EliminateDeadNodes.run(&work)
      try work.verify()
    } catch {
      throw Refusal("the merged graph does not check: \(error)")
    }
    graph = work
    return Report(rates: applied, lengths: lengths(graph), merges: mergeNodes.count, unmerges: unmerges)
  }

  /// Each attention's key length, in layer order.
  static func lengths(_ graph: Graph) -> [Dim] {
    graph.nodes.compactMap { node -> Dim? in
      guard node.op is FusedAttention, node.inputs.count > 1, let k = node.inputs[1], let dims = graph.values[k].type?.dims, dims.count == 4
      else { return nil }
      return dims[2]
    }
  }

  /// Every value `value` is computed from (itself included).
  static func ancestorValues(of value: ValueID, _ graph: Graph, _ producers: [ValueID: Int]) -> Set<ValueID> {
    var seen: Set<ValueID> = [value], stack = [value]
    while let next = stack.popLast() {
      guard let producer = producers[next] else { continue }
      for case let input? in graph.nodes[producer].inputs where graph.values[input].constant == nil && seen.insert(input).inserted {
        stack.append(input)
      }
    }
    return seen
  }

  /// Where a merged value's token axis is, and after how many merges.
  struct Tracked {
    var axis: Int
    var level: Int
  }

  /// Walks the nodes after the merges: tracks the token axis, rewrites reshape targets to the
  /// merged length, and puts `TokenUnmerge` in front of ops that are not per token and of the
  /// graph outputs. Returns how many unmerges it added.
  static func proveAndFix(_ graph: inout Graph, mergeNodes: Set<String>) throws(Refusal) -> Int {
    var tracked: [ValueID: Tracked] = [:]
    var originAt: [Int: ValueID] = [:]  // level → origin
    var lengthAt: [Int: Dim] = [:]  // level → token count
    var rebuilt: [Node] = []
    var unmerges = 0
    func unmerge(_ value: ValueID, _ info: Tracked, for consumer: String) throws(Refusal) -> (Node, ValueID) {
      guard info.axis == 1, let origin = originAt[info.level] else {
        throw Refusal("\(consumer) reads a merged value with its token axis at \(info.axis); only axis 1 can be unmerged")
      }
      let name = graph.freshName(graph.values[value].name + "/unmerged")
      let output = graph.addValue(Value(name: name))
      unmerges += 1
      return (Node(name: name, op: TokenUnmergeOp(), inputs: [value, origin], outputs: [output]), output)
    }
    for var node in graph.nodes {
      if mergeNodes.contains(node.name) {
        let level = node.inputs[0].flatMap { tracked[$0]?.level } ?? 0
        // The sizes of the previous merge must describe the stream this merge reads: an op
        // between them that is not per token unmerged the stream.
        if node.inputs.count > 2, let sizes = node.inputs[2], let sizesLevel = tracked[sizes]?.level, sizesLevel != level {
          throw Refusal("\(node.name) reads a residual stream that an earlier op unmerged (merge level \(level), sizes at level \(sizesLevel)): some op between the merges is not per token")
        }
        let before = node.inputs[0].flatMap { graph.values[$0].type?.dims[1] } ?? .symbol("seq")
        let length = (lengthAt[level] ?? before) - Dim((node.op as! TokenMergeOp).call.r)
        lengthAt[level + 1] = length
        tracked[node.outputs[0]] = Tracked(axis: 1, level: level + 1)
        tracked[node.outputs[1]] = Tracked(axis: 1, level: level + 1)
        originAt[level + 1] = node.outputs[2]
        rebuilt.append(node)
        continue
      }
      let reads = node.inputs.enumerated().compactMap { position, id -> (Int, ValueID, Tracked)? in
        guard let id, let info = tracked[id] else { return nil }
        return (position, id, info)
      }
      guard let first = reads.first else {
        rebuilt.append(node)
        continue
      }
      if let other = reads.first(where: { $0.2.level != first.2.level }) {
        throw Refusal("\(node.label) reads values from different merge levels (\(first.2.level) and \(other.2.level)): a skip connection across a token merge")
      }
      let rule = perTokenRule(node, reads: reads, graph)
      switch rule {
      case .perToken(let axes):
        for (k, axis) in axes.enumerated() where k < node.outputs.count {
          if let axis { tracked[node.outputs[k]] = Tracked(axis: axis, level: first.2.level) }
        }
      case .reshape(let axis, let target):
        guard let length = lengthAt[first.2.level] else { throw Refusal("\(node.label): unknown merged length") }
        var dims = target
        if !(dims[axis].value == 0) { dims[axis] = length }
        let name = graph.freshName(node.name + "/merged_shape")
        let shape = graph.addValue(Value(name: name))
        rebuilt.append(Node(
          name: name, op: DimExpressions(dims: dims), inputs: [], outputs: [shape]))
        node.inputs[1] = shape
        tracked[node.outputs[0]] = Tracked(axis: axis, level: first.2.level)
      case .leaves:
        break
      case .notPerToken(let why):
        for (position, id, info) in reads {
          do {
            let (unmergeNode, restored) = try unmerge(id, info, for: node.label)
            rebuilt.append(unmergeNode)
            node.inputs[position] = restored
          } catch {
            throw Refusal("\(error.reason) (\(why))")
          }
        }
      }
      rebuilt.append(node)
    }
    for (k, output) in graph.outputs.enumerated() {
      guard let info = tracked[output] else { continue }
      let (node, restored) = try unmerge(output, info, for: "graph output '\(graph.values[output].name)'")
      rebuilt.append(node)
      let name = graph.values[output].name
      graph.values[output].name = graph.freshName(name + "__merged")
      graph.values[restored].name = name
      graph.outputs[k] = restored
    }
    graph.nodes = rebuilt
    return unmerges
  }

  /// Whether `node` acts per token on its merged inputs `reads`, and where the axis goes: the
  /// op's own `Tokenwise` rule (an op without one is not per token).
  static func perTokenRule(_ node: Node, reads: [(Int, ValueID, Tracked)], _ graph: Graph) -> TokenRule {
    guard let op = node.op as? any Tokenwise else { return .notPerToken("\(node.opType) is not known to act per token") }
    return op.tokenRule(reads.map { TokenRead(position: $0.0, axis: $0.2.axis) }, graph.nodeContext(of: node))
  }

}
