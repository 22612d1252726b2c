import AttncIR
import AttncTensor

/// `fuse-cache-append`: a decoder step on a KV cache, as exporters write it,
///
///     K = Concat(pastK, newK, axis=2)   V = Concat(pastV, newV, axis=2)   (present keys, values)
///     Y = FusedAttention(Q, K, V, mask?)
///
/// becomes one `CachedAttention(Q, pastK, newK, pastV, newV, mask?) → Y, K, V`: the kernel copies
/// the cache into the present while it attends, so a decoding step streams the cache once instead
/// of twice (copy, then attention). Every other reader of K and V (the model's `present` outputs)
/// reads the new node's outputs. Runs at lowering, after the variants are chosen.
public enum FuseCacheAppend {
  public static let pass = Pass("fuse-cache-append") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    let m = GraphMatching(graph)
    var edit = GraphEdit()
    for (index, node) in graph.nodes.enumerated() {
      guard let op = node.op as? FusedAttention, node.inputs.count >= 3, let q = node.inputs[0], let k = node.inputs[1],
        let v = node.inputs[2], let y = node.outputs.first, let keys = appended(k, before: index, m),
        let values = appended(v, before: index, m), k != v
      else { continue }
      let present = [k, v].map { graph.addValue(replacing: $0, suffix: "__present") }
      let output = graph.addValue(replacing: y, suffix: "__cached")
      let cached = Node(
        name: node.name + "/cache", op: CachedAttention(op),
        inputs: [q, keys.past, keys.new, values.past, values.new] + node.inputs.dropFirst(3), outputs: [output] + present)
      // Before the attention, so that it (now dead) reads the present it is redirected to.
      edit.insert([cached], after: index - 1, replacing: [(y, output), (k, present[0]), (v, present[1])])
    }
    edit.apply(to: &graph)
    return edit.count
  }

  /// The cache's length when `attention` (a `FusedAttention` node) reads its K and V as
  /// `Concat(past, new)` along the key axis, else nil.
  public static func cacheLength(of attention: Node, in graph: Graph) -> Dim? {
    guard attention.inputs.count >= 3, let k = attention.inputs[1], let v = attention.inputs[2] else { return nil }
    return GraphMatching(graph).cacheLength(keys: k, values: v)
  }

  /// `(past, new)` when `value` is `Concat(past, new)` along the key axis whose readers all come
  /// after the attention at `index` (so they may read its outputs).
  static func appended(_ value: ValueID, before index: Int, _ m: GraphMatching) -> (past: ValueID, new: ValueID)? {
    guard let parts = m.cacheParts(value), (m.consumers[value] ?? []).allSatisfy({ $0 >= index }) else { return nil }
    return parts
  }
}
