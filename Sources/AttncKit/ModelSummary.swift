import AttncCost
import AttncIR
import AttncKernels
import AttncPasses
import AttncTensor
import AttncRuntime
import Foundation

/// What `attnc inspect <model.onnx>` reports: model facts, inputs and outputs with symbolic
/// shapes, parameters, and op counts before and after canonicalization.
public struct ModelSummary: Sendable {
  public struct Port: Sendable {
    public var name: String
    /// `float32`, or a non-tensor type description; nil when unknown.
    public var dtype: String?
    /// Dims as numbers or expressions; nil when unknown.
    public var dims: [Dim]?
  }

  public var path: String
  public var info: ModelInfo
  public var inputs: [Port]
  public var outputs: [Port]
  public var parameterCount: Int
  public var parameterBytes: Int
  public var parameterTensors: Int
  public var opsBefore: [(type: String, count: Int)]
  public var opsAfter: [(type: String, count: Int)]
  public var passes: [(pass: String, count: Int)]
  /// The float16/bfloat16 types the model stores or computes in, and how many of its values
  /// `widen-narrow-floats` turned into float32 (none for a float32 model).
  public var narrowFloats: (types: [DType], widened: Int)
  /// Unsupported op types with their node names.
  public var unsupported: [(type: String, nodes: [String])]
  /// Every softmax attention the matcher found, and every Softmax it left exact (with why).
  public var attention: MatchAttention.Report
  /// Rotary embeddings `match-rotary` finds: all, those on a prefix of the head, interleaved ones.
  public var rotary: (all: Int, partial: Int, interleaved: Int)
  /// When set (`inspect --seq-len N`), each matched attention also lists every variant's cost
  /// at this many tokens (`AttentionCandidate`).
  public var seqLen: Int?
  /// When set (`inspect --seq-len N|auto`), the cost model's per-layer candidates with predicted
  /// time and error, and the policy's choice, replace the formula-only listing.
  public var policyReport: PolicyReport?
  /// When set (`inspect --seq-len N`): the converted plan's predicted seconds per kernel at
  /// `seqLen` (attention by its chosen variant), every call priced by its own cost.
  public var predictedSecondsByKernel: [String: Double]?

  /// When set (`inspect`): whether `--token-merge` can rewrite this model, the blocks found or
  /// why not (`tokenMergingCheck`; `convert` does not pay for the dry run).
  public var tokenMerging: (blocks: Int, refusal: String?)?

  public init(_ model: LoadedModel) {
    path = model.path
    info = model.imported.info
    let graph = model.canonical
    func port(_ id: ValueID) -> Port {
      let value = graph.values[id]
      if let other = value.nonTensorType { return Port(name: value.name, dtype: other, dims: nil) }
      return Port(name: value.name, dtype: value.type.map { "\($0.dtype)" }, dims: value.type?.dims)
    }
    inputs = graph.inputs.map(port)
    outputs = graph.outputs.map(port)
    let weights = model.imported.values.filter { $0.constant != nil }
    parameterTensors = weights.count
    parameterCount = weights.reduce(0) { $0 + ($1.constant?.count ?? 0) }
    parameterBytes = weights.reduce(0) { $0 + ($1.constant?.storage.count ?? 0) }
    opsBefore = model.imported.opCounts()
    opsAfter = graph.opCounts()
    passes = model.report.hits
    narrowFloats = (
      WidenNarrowFloats.narrowTypes(in: model.imported),
      passes.first { $0.pass == WidenNarrowFloats.pass.name }?.count ?? 0
    )
    var unsupported: [(String, [String])] = []
    for node in model.imported.nodes where !node.isSupported {
      let type = node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)"
      if let i = unsupported.firstIndex(where: { $0.0 == type }) {
        unsupported[i].1.append(node.name)
      } else {
        unsupported.append((type, [node.name]))
      }
    }
    self.unsupported = unsupported
    attention = MatchAttention.analyze(graph)
    rotary = MatchRotary.analyze(graph)
  }

  /// A dry run of the `merge-tokens` pass (one token per block) on the canonical graph, matched.
  public static func tokenMergingCheck(_ graph: Graph) -> (blocks: Int, refusal: String?) {
    var matched = graph
    do {
      try AttentionMatching.pipeline.run(&matched)
    } catch {
      return (0, "attention matching failed: \(error)")
    }
    do {
      let blocks = try MergeTokens.blocks(matched)
      try MergeTokens.apply(Array(repeating: 1, count: blocks.count), to: &matched)
      return (blocks.count, nil)
    } catch {
      return (0, error.reason)
    }
  }

  // MARK: - JSON

  /// The stable JSON document (schema in docs/inspect-json.md).
  public var json: JSON {
    func dims(_ dims: [Dim]?) -> JSON {
      guard let dims else { return .null }
      return .array(dims.map { $0.value.map { JSON.int($0) } ?? .string($0.description) })
    }
    func ports(_ list: [Port]) -> JSON {
      .array(list.map { .object([("name", .string($0.name)), ("dtype", $0.dtype.map(JSON.string) ?? .null), ("shape", dims($0.dims))]) })
    }
    func ops(_ list: [(type: String, count: Int)]) -> JSON {
      .object(list.map { ($0.type, .int($0.count)) })
    }
    let opsets = info.opsets.sorted { $0.key < $1.key }.map {
      JSON.object([("domain", .string($0.key.isEmpty ? "ai.onnx" : $0.key)), ("version", .int($0.value))])
    }
    var prediction: [(String, JSON)] = []
    if let byKernel = predictedSecondsByKernel {
      prediction = [("predicted_ms_by_kernel", Self.milliseconds(byKernel)), ("predicted_ms", .number(byKernel.values.reduce(0, +) * 1e3))]
    }
    let facts: [(String, JSON)] = [
      ("schema", .string("attnc.inspect.model/1")),
      ("file", .string(path)),
      ("ir_version", .int(info.irVersion)),
      ("producer", .object([("name", .string(info.producerName)), ("version", .string(info.producerVersion))])),
      ("opsets", .array(opsets)),
      ("inputs", ports(inputs)),
      ("outputs", ports(outputs)),
      ("parameters", .object([("count", .int(parameterCount)), ("bytes", .int(parameterBytes)), ("tensors", .int(parameterTensors))])),
      ("ops_before", ops(opsBefore)),
      ("ops_after", ops(opsAfter)),
      ("nodes_before", .int(opsBefore.reduce(0) { $0 + $1.count })),
      ("nodes_after", .int(opsAfter.reduce(0) { $0 + $1.count })),
      ("passes", .array(passes.map { .object([("name", .string($0.pass)), ("hits", .int($0.count))]) })),
      ("narrow_floats", .object([
        ("types", .array(narrowFloats.types.map { .string($0.description) })), ("widened_values", .int(narrowFloats.widened)),
      ])),
      ("unsupported_ops", .array(unsupported.map { .object([("op", .string($0.type)), ("nodes", .array($0.nodes.map(JSON.string)))]) })),
      ("attention", .array(attention.matches.map { match in
        .object([
          ("node", .string(match.node)), ("layer", .int(match.layer)), ("q_heads", .int(match.spec.qHeads)),
          ("kv_heads", .int(match.spec.kvHeads)), ("head_dim", .int(match.spec.headDim)), ("scale", .number(Double(match.spec.scale))),
          ("mask", .string(match.spec.maskDescription)), ("causal", .bool(match.spec.causal)),
          ("seq_len", match.queries.value.map { JSON.int($0) } ?? .string(match.queries.description)),
          ("variant", .string(match.spec.variant.description)),
          ("kv_cache", .bool(match.readsCache)), ("decode", Self.decoding(match).map(JSON.string) ?? .null),
        ] + candidateFields(match))
      })),
      ("unmatched_softmax", .array(attention.declined.map { .object([("node", .string($0.node)), ("reason", .string($0.reason))]) })),
      ("rotary", .object([("matched", .int(rotary.all)), ("partial", .int(rotary.partial)), ("interleaved", .int(rotary.interleaved))])),
    ]
    let merging: [(String, JSON)] = (tokenMerging.map { merging in
      [("token_merging", .object([
        ("possible", .bool(merging.refusal == nil)), ("blocks", .int(merging.blocks)),
        ("reason", merging.refusal.map(JSON.string) ?? .null),
      ]))]
    } ?? [])
    let costModel: [(String, JSON)] = (policyReport.map { report in
      [("cost_model", .object([
        ("policy", .string(report.policy.rawValue)), ("seq_len", .int(report.seqLen)), ("length_dispatched", .bool(report.auto)),
        ("calibration", .string(report.calibration)),
        ("predicted_attention_ms_exact", .number(report.exactAttentionSeconds * 1e3)),
        ("predicted_attention_ms_chosen", .number(report.chosenAttentionSeconds * 1e3)),
        ("predicted_other_ms", .number(report.otherSeconds * 1e3)), ("predicted_speedup", .number(report.speedup)),
        ("output_error", report.outputError.map(JSON.number) ?? .null), ("reverted_layers", .array(report.reverted.map(JSON.int))),
      ] + (report.unmergedSeconds == nil ? [] : [
        ("merge_error", report.mergeError.map(JSON.number) ?? .null), ("tokens", .array(report.layers.map { .int($0.tokens) })),
      ])))]
    } ?? [])
    return .object(facts + merging + prediction + costModel)
  }

  /// The cost model's predicted milliseconds per kernel, largest first.
  static func milliseconds(_ byKernel: [String: Double]) -> JSON {
    let sorted: [(String, Double)] = byKernel.sorted { $0.value > $1.value }
    return .object(sorted.map { (kernel: String, seconds: Double) -> (String, JSON) in (kernel, JSON.number(seconds * 1e3)) })
  }

  /// The predicted time per kernel as `inspect` prints it, largest first.
  func predictionTable(_ byKernel: [String: Double], seqLen: Int) -> String {
    let total = byKernel.values.reduce(0, +)
    var lines = [String(format: "predicted time of the plan at seq %d, batch 1: %.2f ms (compare: attnc run --stats)", seqLen, total * 1e3)]
    for (kernel, seconds) in byKernel.sorted(by: { $0.value > $1.value }) {
      lines.append("  " + kernel.padding(toLength: 22, withPad: " ", startingAt: 0)
        + String(format: "%9.3f ms  %5.1f%%", seconds * 1e3, total > 0 ? 100 * seconds / total : 0))
    }
    return lines.joined(separator: "\n")
  }

  /// `candidates` and `chosen` of one attention entry: the cost model's when it ran, else the
  /// formula-only costs at `seqLen`.
  func candidateFields(_ match: MatchAttention.Match) -> [(String, JSON)] {
    if let layer = policyReport?.layers.first(where: { $0.layer == match.layer }) {
      return [
        ("candidates", .array(layer.candidates.map(\.json))), ("chosen", .string(layer.chosen)),
        ("reason", .string(layer.reason)), ("dispatch", layer.dispatch.map { .string($0.description) } ?? .null),
      ]
    }
    guard let seqLen else { return [] }
    return [("candidates", .array(AttentionCandidate.all(for: match, seqLen: seqLen).map(\.json))), ("chosen", .string(match.spec.variant.name))]
  }

  // MARK: - Table

  /// The human-readable report.
  public var table: String {
    var lines: [String] = []
    func row(_ key: String, _ value: String) { lines.append(key.padding(toLength: 12, withPad: " ", startingAt: 0) + value) }
    row("model", path)
    let producer = [info.producerName, info.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
    row("producer", producer.isEmpty ? "(none)" : producer)
    row("ir version", "\(info.irVersion)")
    row("opsets", info.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", "))
    row("parameters", "\(Self.grouped(parameterCount)) in \(parameterTensors) tensors (\(Self.bytes(parameterBytes)))")
    lines.append("")
    let nameWidth = max(12, (inputs + outputs).map(\.name.count).max() ?? 0) + 2
    for (title, list) in [("inputs", inputs), ("outputs", outputs)] {
      lines.append(title)
      for port in list {
        let type = port.dtype ?? "?"
        let shape = port.dims?.shapeDescription ?? "(unknown)"
        lines.append("  " + port.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + type.padding(toLength: 10, withPad: " ", startingAt: 0) + shape)
      }
    }
    lines.append("")
    let before = Dictionary(uniqueKeysWithValues: opsBefore.map { ($0.type, $0.count) })
    let after = Dictionary(uniqueKeysWithValues: opsAfter.map { ($0.type, $0.count) })
    let types = Set(before.keys).union(after.keys).sorted()
    let typeWidth = max(20, (types.map(\.count).max() ?? 0) + 2)
    func count(_ n: Int?) -> String { String(repeating: " ", count: max(0, 8 - "\(n ?? 0)".count)) + "\(n ?? 0)" }
    lines.append("op type".padding(toLength: typeWidth, withPad: " ", startingAt: 0) + "  before     after")
    for type in types {
      lines.append(type.padding(toLength: typeWidth, withPad: " ", startingAt: 0) + count(before[type]) + "  " + count(after[type]))
    }
    lines.append("total".padding(toLength: typeWidth, withPad: " ", startingAt: 0) + count(before.values.reduce(0, +)) + "  " + count(after.values.reduce(0, +)))
    let hits = passes.filter { $0.count > 0 }.map { "\($0.pass) \($0.count)" }
    lines.append("")
    lines.append("passes: " + (hits.isEmpty ? "no changes" : hits.joined(separator: ", ")))
    if let line = computeLine { lines.append(line) }
    lines.append("")
    lines.append(attentionTable)
    if !unsupported.isEmpty {
      lines.append("unsupported: " + unsupported.map { "\($0.type) (\($0.nodes.count))" }.joined(separator: ", "))
    }
    return lines.joined(separator: "\n")
  }

  /// `computes in float32: widened 153 float16 values` for a float16/bfloat16 model, else nil.
  var computeLine: String? {
    guard !narrowFloats.types.isEmpty else { return nil }
    let types = narrowFloats.types.map(\.description).joined(separator: " and ")
    return "computes in float32: widened \(narrowFloats.widened) \(types) values (weights converted once; "
      + "inputs and outputs keep their types through a Cast)"
  }

  /// One row per matched attention, then the Softmax nodes left exact with the reason.
  var attentionTable: String {
    var lines = ["attention: \(attention.matches.count) matched, \(attention.declined.count) softmax left exact"]
    if !attention.matches.isEmpty {
      let header = ["layer", "heads q/kv", "head dim", "scale", "mask", "seq", "variant", "node"]
      var rows = attention.matches.map { match -> [String] in
        ["\(match.layer)", "\(match.spec.qHeads)/\(match.spec.kvHeads)", "\(match.spec.headDim)", "\(match.spec.scale)",
         match.spec.maskDescription, match.queries.description, match.spec.variant.description, match.node]
      }
      rows.insert(header, at: 0)
      let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
      for row in rows {
        lines.append("  " + row.enumerated().map { $1.padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }.joined())
      }
    }
    var decoding: [(note: String, layers: [Int])] = []
    for match in attention.matches {
      guard let note = Self.decoding(match) else { continue }
      if let index = decoding.firstIndex(where: { $0.note == note }) { decoding[index].layers.append(match.layer) }
      else { decoding.append((note, [match.layer])) }
    }
    for (note, layers) in decoding {
      lines.append("  decode, layer\(layers.count > 1 ? "s" : "") \(layers.map(String.init).joined(separator: ",")): \(note)")
    }
    for declined in attention.declined {
      lines.append("  exact softmax '\(declined.node)': \(declined.reason)")
    }
    if rotary.all > 0 {
      let kinds = [rotary.partial > 0 ? "\(rotary.partial) on a prefix of the head" : nil, rotary.interleaved > 0 ? "\(rotary.interleaved) interleaved" : nil]
      lines.append("rotary: \(rotary.all) matched\(kinds.compactMap { $0 }.isEmpty ? "" : " (" + kinds.compactMap { $0 }.joined(separator: ", ") + ")"), run by attnc's rotary kernel (FusedRotary)")
    }
    if let merging = tokenMerging {
      lines.append(merging.refusal.map { "token merging: not possible: \($0)" }
        ?? "token merging: possible in \(merging.blocks) blocks (--token-merge r|r:decreasing|list|auto)")
    }
    if let policyReport, !attention.matches.isEmpty {
      lines.append(policyReport.candidateTable)
      lines.append(policyReport.table)
    } else if let seqLen, !attention.matches.isEmpty {
      lines.append(candidateTable(seqLen))
    }
    if let predictedSecondsByKernel, let seqLen = seqLen ?? policyReport?.seqLen {
      lines.append(predictionTable(predictedSecondsByKernel, seqLen: seqLen))
    }
    return lines.joined(separator: "\n")
  }

  /// What an attention on a KV cache does in a decoding step (nil for one without a cache): a
  /// step of at most `TiledAttention.decodeRows` new tokens runs exact over the whole cache, in
  /// one pass with the cache append, whatever the layer's variant.
  static func decoding(_ match: MatchAttention.Match) -> String? {
    guard match.readsCache else { return nil }
    let exact = "K, V = Concat(past, new): a step of up to \(TiledAttention.decodeRows) new tokens runs exact over the cache, "
      + "in one pass with the cache append (O(L·d) per query)"
    guard match.spec.variant != AttentionVariant.softmax || match.spec.dispatch != nil else { return exact }
    return exact + "; \(match.spec.dispatch?.description ?? match.spec.variant.description) applies to longer steps (the prompt) only: "
      + "a variant carries no state between steps, so per step it would recompute its features over the whole cache "
      + "(more than exact's O(L·d) per query), and its error is measured on full-length inputs"
  }

  /// Every variant's cost at `seqLen` tokens, once per distinct attention shape.
  func candidateTable(_ seqLen: Int) -> String {
    var groups: [(key: String, layers: [Int], candidates: [AttentionCandidate])] = []
    for match in attention.matches {
      let key = "\(match.spec.qHeads)/\(match.spec.kvHeads) heads, d \(match.spec.headDim), \(match.spec.maskDescription), q \(match.queries), k \(match.keys)"
      if let index = groups.firstIndex(where: { $0.key == key }) {
        groups[index].layers.append(match.layer)
      } else {
        groups.append((key, [match.layer], AttentionCandidate.all(for: match, seqLen: seqLen)))
      }
    }
    var lines = ["", "variant costs at seq \(seqLen), batch 1, per layer (formulas in docs/variants.md; predicted time and error: issue #5)"]
    for group in groups {
      lines.append("  layers \(group.layers.map(String.init).joined(separator: ",")): \(group.key)")
      lines.append("    variant         GFLOP     exp (M)   MB moved   extra MB   ")
      for c in group.candidates {
        let numbers = String(format: "%9.3f %11.2f %10.1f %10.2f   ", c.cost.flops / 1e9, c.cost.exponentials / 1e6, c.cost.bytes / 1e6, c.cost.extraMemoryBytes / 1e6)
        lines.append("    " + c.variant.padding(toLength: 13, withPad: " ", startingAt: 0) + numbers + (c.refusal.map { "not allowed: \($0)" } ?? "allowed"))
      }
    }
    return lines.joined(separator: "\n")
  }

  static func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, c) in digits.enumerated() {
      if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
      out.append(c)
    }
    return out
  }

  static func bytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
    if n < 1 << 30 { return String(format: "%.1f MiB", Double(n) / 1048576) }
    return String(format: "%.2f GiB", Double(n) / 1073741824)
  }
}

extension ModelSummary {
  /// The op table before (the ONNX model) and after (the plan's kernel calls) for every op
  /// type whose count changed, as `convert` prints it.
  public func opChanges(_ plan: Plan) -> String {
    var before: [String: Int] = [:], after: [String: Int] = [:]
    for (type, count) in opsBefore { before[type, default: 0] += count }
    for instruction in plan.instructions { after[instruction.kernel, default: 0] += 1 }
    let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    guard !changed.isEmpty else { return "  ops: unchanged" }
    let width = max(16, (changed.map(\.count).max() ?? 0) + 2)
    var lines = ["  op".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "model   plan"]
    for type in changed {
      let counts = String(format: "%5d  %5d", before[type] ?? 0, after[type] ?? 0)
      lines.append("  " + type.padding(toLength: width, withPad: " ", startingAt: 0) + counts)
    }
    return lines.joined(separator: "\n")
  }
}
