import AttncIR
import AttncTensor

/// Finds out what an exported attention mask computes by evaluating it: the subgraph that builds
/// the additive mask is folded for a few concrete sequence lengths and, when it reads an integer
/// `[B, L]` input (an `attention_mask`), for several padding patterns. The result names the
/// mask when every probe agrees with one form:
/// - `causal`: entries above the (bottom-right) diagonal are ≤ −1e4, the rest 0;
/// - key padding: entries of keys whose `attention_mask` is 0 equal one fill value ≤ −1e4;
/// - both, or neither (no mask at all).
/// Anything else stays an additive bias, computed by the model's own nodes at run time.
enum MaskProbe {
  /// (symbol length, query length) per probe: every symbol at 3, 5 and 8; then, when the
  /// queries' length is an expression of its own (a KV cache: `seq` queries on `past + seq`
  /// keys), one query on 5 and 8 past keys (a decoding step).
  static func probes(_ mask: ValueID, in graph: Graph) -> [(length: Int, queries: Int?)] {
    var result: [(length: Int, queries: Int?)] = lengths.map { ($0, nil) }
    if let dims = graph.values[mask].type?.dims, dims.count == 4, !dims[2].symbols.isEmpty, dims[2] != dims[3] {
      result += [(5, 1), (8, 1)]
    }
    return result
  }

  /// Every symbol bound to `length`, except: the symbols of the mask's query axis to `queries`
  /// when given, and the `attention_mask`'s own length symbol to the mask's key length (with a
  /// KV cache the exporter names `past + seq` keys `total` there, and the probe must agree).
  static func bindings(
    _ names: Set<String>, length: Int, queries: Int?, mask: ValueID, padding: ValueID?, in graph: Graph
  ) -> [String: Int] {
    var bindings = Dictionary(uniqueKeysWithValues: names.map { ($0, length) })
    guard let dims = graph.values[mask].type?.dims, dims.count == 4 else { return bindings }
    if let queries {
      for name in dims[2].symbols { bindings[name] = queries }
    }
    if let padding, let paddingDims = graph.values[padding].type?.dims, paddingDims.count == 2,
      paddingDims[1] != dims[3], paddingDims[1].symbols.count == 1, let name = paddingDims[1].symbols.first,
      paddingDims[1] == Dim.symbol(name), !dims[3].symbols.contains(name)
    {
      var others = bindings
      others[name] = nil
      if let keys = dims[3].evaluate(others) { bindings[name] = keys }
    }
    return bindings
  }

  /// What the probes found.
  struct Finding: Equatable {
    /// Keys past the diagonal are masked (tiles there may be skipped).
    var causal: Bool
    /// The mask is exactly causal and/or key padding (the mask's nodes can go).
    var explained: Bool
    /// The `[B, L]` input the padding reads, and the value added to padded keys.
    var padding: ValueID?
    var fill: Float
    /// The one value of every entry past the diagonal of a causal mask (−inf or finite).
    var causalFill: Float = -.infinity
  }

  /// Masked entries must be at least this negative (softmax weight e^{−1e4} is 0 in float32).
  static let maskedAtMost: Float = -1e4
  static let lengths = [3, 5, 8]

  /// - Returns: nil when the mask cannot be probed (it reads a float input, or an op of its
  ///   subgraph does not evaluate); the reason is in `declined`.
  static func classify(_ mask: ValueID, in graph: Graph, declined: inout String) -> Finding? {
    let (nodes, inputs) = ancestors(of: mask, in: graph)
    let paddingInputs = inputs.filter { id in
      guard let type = graph.values[id].type else { return false }
      return type.rank == 2 && (type.dtype.isInteger || type.dtype == .bool || type.dtype.isFloatingPoint)
    }
    guard inputs.count == paddingInputs.count, paddingInputs.count <= 1 else {
      declined = "the mask reads inputs \(inputs.map { "'\(graph.values[$0].name)'" }.joined(separator: ", ")), not one [B, L] attention mask"
      return nil
    }
    let padding = paddingInputs.first
    var tally = Tally()
    let names = symbols(of: mask, nodes: nodes, inputs: inputs, in: graph)
    for (length, queries) in probes(mask, in: graph) {
      for pattern in padding == nil ? [0] : [0, 1, 2] {
        let bindings = self.bindings(names, length: length, queries: queries, mask: mask, padding: padding, in: graph)
        var paddingTensor: HostTensor?
        if let padding, let type = graph.values[padding].type {
          guard let dims = type.dims.map({ $0.substituting(bindings.mapValues { Dim($0) }).value }) as? [Int] else { return nil }
          paddingTensor = paddingValues(dims, pattern: pattern, dtype: type.dtype)
        }
        guard let values = evaluate(mask, nodes: nodes, in: graph, bindings: bindings, padding: padding.map { ($0, paddingTensor!) })
        else {
          // The decoding-step probes are extra evidence: a mask built for S = L only is
          // judged on the others.
          if queries != nil { continue }
          declined = "the mask's subgraph does not evaluate for a probe length \(length)"
          return nil
        }
        tally.add(values, padding: paddingTensor)
      }
    }
    let causal = tally.causalHidden > 0 && tally.causalHiddenMasked
    let explanation = causal ? tally.causal : tally.plain
    let fill = explanation.fill ?? 0
    // Past the diagonal the kernel adds one value (it matters for rows whose keys are all
    // padded): a mask that adds several there (causal plus padding summed) stays a bias.
    let explained = explanation.holds && (padding == nil || fill <= maskedAtMost) && (!causal || tally.hidden.holds)
    return Finding(
      causal: causal, explained: explained, padding: explained ? padding : nil, fill: fill,
      causalFill: causal ? tally.hidden.fill ?? -.infinity : -.infinity)
  }

  /// What the entries of all probes looked like, under two hypotheses: causal (entries past
  /// the diagonal masked, the rest padding or 0) and not causal (every entry padding or 0).
  struct Tally {
    var causalHidden = 0
    var causalHiddenMasked = true
    var causal = Explanation()
    var plain = Explanation()
    /// The entries past the diagonal, all "padded": whether they hold one value, and which.
    var hidden = Explanation()

    /// Whether every entry so far is 0 for a visible key and one common fill for a padded key.
    struct Explanation {
      var holds = true
      var fill: Float?

      mutating func check(_ value: Float, padded: Bool) {
        if padded {
          if fill == nil { fill = value }
          if value != fill { holds = false }
        } else if value != 0 {
          holds = false
        }
      }
    }

    mutating func add(_ mask: HostTensor, padding: HostTensor?) {
      let shape = [Int](repeating: 1, count: max(0, 4 - mask.rank)) + mask.shape
      guard shape.count == 4 else {
        causal.holds = false
        plain.holds = false
        return
      }
      let values = mask.floats()
      let pad = padding?.int64s()
      let (batches, heads, queries, keys) = (shape[0], shape[1], shape[2], shape[3])
      let padKeys = padding?.shape.last ?? keys
      var index = 0
      for b in 0..<batches {
        for _ in 0..<heads {
          for i in 0..<queries {
            for j in 0..<keys {
              let value = values[index]
              index += 1
              let padded = pad.map { padKeys == keys && $0[b * padKeys + j] == 0 } ?? false
              plain.check(value, padded: padded)
              // A [B, 1, 1, L] mask is the same for every query: it cannot be causal.
              if queries > 1 && j > i + (keys - queries) {
                causalHidden += 1
                if !(value <= MaskProbe.maskedAtMost) { causalHiddenMasked = false }
                hidden.check(value, padded: true)
              } else {
                causal.check(value, padded: padded)
              }
            }
          }
        }
      }
    }
  }

  /// An attention mask of `dims` ([B, L]): pattern 0 all ones, 1 right padding of growing
  /// length per row, 2 left padding; each row keeps at least its last (1) or first (2) key.
  static func paddingValues(_ dims: [Int], pattern: Int, dtype: DType) -> HostTensor {
    let (rows, length) = (dims[0], dims[1])
    var values = [Double](repeating: 1, count: rows * length)
    for b in 0..<rows {
      let padded = min(length - 1, b + 1)
      for j in 0..<length {
        if pattern == 1 && j >= length - padded { values[b * length + j] = 0 }
        if pattern == 2 && j < padded { values[b * length + j] = 0 }
      }
    }
    return HostTensor(dtype: dtype, shape: dims, converting: values)
  }

  /// The nodes (in graph order) that `value` depends on, and the graph inputs it reads.
  static func ancestors(of value: ValueID, in graph: Graph) -> (nodes: [Int], inputs: [ValueID]) {
    let producers = graph.producers()
    let graphInputs = Set(graph.inputs)
    var seen: Set<ValueID> = [], nodes: Set<Int> = [], inputs: [ValueID] = []
    var stack = [value]
    while let id = stack.popLast() {
      guard seen.insert(id).inserted else { continue }
      if graphInputs.contains(id) { inputs.append(id) }
      guard let index = producers[id] else { continue }
      nodes.insert(index)
      stack.append(contentsOf: graph.nodes[index].inputs.compactMap { $0 })
    }
    return (nodes.sorted(), inputs)
  }

  /// Every symbol in the types of `mask`, `inputs` and the outputs of `nodes` (its ancestors), and
  /// in their `DimExpressions`.
  static func symbols(of mask: ValueID, nodes: [Int], inputs: [ValueID], in graph: Graph) -> Set<String> {
    var result: Set<String> = []
    for id in inputs + [mask] {
      for dim in graph.values[id].type?.dims ?? [] { result.formUnion(dim.symbols) }
    }
    for index in nodes {
      if let op = graph.nodes[index].op as? DimExpressions {
        for dim in op.dims { result.formUnion(dim.symbols) }
      }
      for output in graph.nodes[index].outputs {
        for dim in graph.values[output].type?.dims ?? [] { result.formUnion(dim.symbols) }
      }
    }
    return result
  }

  /// Folds the mask's subgraph with symbols bound and the padding input set.
  static func evaluate(
    _ mask: ValueID, nodes: [Int], in graph: Graph, bindings: [String: Int], padding: (ValueID, HostTensor)?
  ) -> HostTensor? {
    let replacements = bindings.mapValues { Dim($0) }
    var probe = graph
    probe.inputs = []
    probe.outputs = [mask]
    probe.nodes = nodes.map { graph.nodes[$0] }
    for id in probe.values.indices {
      var value = probe.values[id]
      if let type = value.type { value.type = TensorType(type.dtype, type.dims.map { $0.substituting(replacements) }) }
      value.content = value.content?.map { $0.substituting(replacements) }
      probe.values[id] = value
    }
    if let (id, tensor) = padding {
      probe.values[id].constant = tensor
      probe.values[id].content = ValueFact.contentOf(tensor)
    }
    var kept: [Node] = []
    for var node in probe.nodes {
      if var op = node.op as? DimExpressions {
        op.dims = op.dims.map { $0.substituting(replacements) }
        if let values = op.dims.map(\.value) as? [Int], let output = node.outputs.first {
          let tensor = HostTensor(dtype: op.dtype, shape: op.scalar ? [] : [values.count], integers: values.map { Int64($0) })
          FoldConstants.setConstant(output, tensor, in: &probe)
          continue
        }
        node.op = op
      }
      kept.append(node)
    }
    probe.nodes = kept
    do {
      try Pipeline([FoldConstants.pass], maximumIterations: 64).run(&probe)
    } catch {
      return nil
    }
    return probe.values[mask].constant
  }
}
