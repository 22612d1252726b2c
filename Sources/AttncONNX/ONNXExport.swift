import AttncIR
import AttncTensor
import Foundation

/// Writes the rewritten IR back as a standard ONNX model (`convert --to onnx`): each node in its
/// standard form — as read for ops of the standard domains, the op's `ONNXExpressible` form for
/// attnc's own ops and for ops whose attributes moved between opsets — its weights, the model's
/// facts and metadata, and the local functions the attention variants need (`ai.attnc`).
public enum ONNXExport {
  public struct Options: Sendable {
    /// The `ai.onnx` opset to write; nil = the model's (or what its nodes need).
    public var targetOpset: Int?
    /// Entries added to the model's own `metadata_props` (same keys replaced).
    public var metadata: [(key: String, value: String)] = []
    /// Weights in an external data file even when the model is small.
    public var externalData = false
    public var producerVersion = AttncBuild.version

    public init(targetOpset: Int? = nil, metadata: [(key: String, value: String)] = [], externalData: Bool = false) {
      self.targetOpset = targetOpset
      self.metadata = metadata
      self.externalData = externalData
    }
  }

  /// The oldest and newest `ai.onnx` opsets written.
  public static let opsets = 13...28
  /// Initializers above this many bytes in total go to an external data file (protobuf's 2 GB
  /// limit on one message, with room for the graph).
  static let inlineLimit = 1_800_000_000
  /// Initializers of at least this many bytes go to the data file when there is one.
  static let externalThreshold = 1024
  static let standardDomains: Set<String> = ["", "ai.onnx", "com.microsoft"]

  /// The model the graph writes as.
  /// - Throws: `.unsupported` naming the node without a standard form and why; `.usage` for a
  ///   target opset older than the model's.
  public static func model(_ graph: Graph, options: Options) throws -> ONNXModelFile {
    let opset = try writtenOpset(graph, target: options.targetOpset)
    var builder = ONNXGraphBuilder(opset: opset, prefix: "attnc", taken: Set(graph.values.map(\.name)))
    for input in graph.inputs {
      for (axis, dim) in (graph.values[input].type?.dims ?? []).enumerated() {
        guard dim.terms.count == 1, let (monomial, coefficient) = dim.terms.first, coefficient == 1, monomial.atoms.count == 1,
          case .symbol(let symbol) = monomial.atoms[0], builder.symbolSources[symbol] == nil
        else { continue }
        builder.symbolSources[symbol] = (graph.values[input].name, axis)
      }
    }
    var domains: [String: Int] = [:]
    for node in graph.nodes {
      let form = ONNXFormNode(
        name: node.name, inputs: node.inputs.map { $0.map { graph.values[$0].name } }, outputs: node.outputs.map { graph.values[$0].name },
        inputFacts: graph.inputFacts(of: node), outputTypes: node.outputs.map { graph.values[$0].type }, attributes: node.attributes,
        opset: node.opset, opType: node.opType, domain: node.domain)
      try withContext(node.label) {
        if let expressible = node.op as? any ONNXExpressible {
          try expressible.onnxForm(form, into: &builder)
        } else if standardDomains.contains(node.domain) {
          builder.nodes.append(try form.passedThrough())
          if !node.domain.isEmpty && node.domain != "ai.onnx" { domains[node.domain] = max(domains[node.domain] ?? 1, node.opset) }
        } else {
          throw AttncError.unsupported("attnc's own op \(node.opType) has no standard ONNX form")
        }
      }
    }
    var initializers = graph.liveConstants().compactMap { id in graph.values[id].constant.map { (graph.values[id].name, $0) } }
    initializers += builder.initializers
    let outputs = try graph.outputs.map { id -> ONNXModelFile.ValueInfo in
      guard let type = graph.values[id].type else { throw AttncError.invalid("output '\(graph.values[id].name)' has no known type") }
      return ONNXModelFile.ValueInfo(name: graph.values[id].name, type: type)
    }
    let inputs = graph.inputs.compactMap { id in graph.values[id].type.map { ONNXModelFile.ValueInfo(name: graph.values[id].name, type: $0) } }
    var opsets: [(domain: String, version: Int)] = [("", opset)]
    opsets += domains.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    if !builder.functions.isEmpty { opsets.append((FusedAttention.functionDomain, 1)) }
    var metadata = graph.info.metadata.filter { key, _ in !options.metadata.contains { $0.key == key } }
      .sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    metadata += options.metadata
    let info = graph.info
    return ONNXModelFile(
      irVersion: max(info.irVersion, irVersion(forOpset: opset)), opsets: opsets, producerName: "attnc",
      producerVersion: options.producerVersion, domain: info.domain, modelVersion: info.modelVersion, docString: info.docString,
      metadata: metadata, graphName: info.graphName, nodes: builder.nodes, initializers: initializers, inputs: inputs, outputs: outputs,
      functions: builder.functions)
  }

  /// Writes `graph` to `path` (and, when the weights are large or `options.externalData`, its
  /// weights to `<name>.data` beside it), each through a temporary file and a rename.
  /// - Returns: the data file's path, when one was written.
  @discardableResult
  public static func write(_ graph: Graph, to path: String, options: Options) throws -> String? {
    let file = try model(graph, options: options)
    let weightBytes = file.initializers.reduce(0) { $0 + $1.tensor.storage.count }
    let dataName = URL(fileURLWithPath: path).lastPathComponent + ".data"
    var external: ONNXModelEncoder.ExternalData? =
      options.externalData || weightBytes > inlineLimit ? ONNXModelEncoder.ExternalData(location: dataName, threshold: externalThreshold) : nil
    let bytes = try ONNXModelEncoder.encode(file, external: &external)
    var dataPath: String?
    if let external {
      let target = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(dataName).path
      try AtomicFile.write(external.data, to: target)
      dataPath = target
    }
    try AtomicFile.write(bytes, to: path)
    return dataPath
  }

  /// Whether the model at `path` keeps any initializer in external data.
  public static func usesExternalData(_ path: String) throws -> Bool {
    let file = try MappedFile(path: path)
    let model = try OnnxDecoder.decodeModel(file.bytes)
    return model.graph.initializers.contains { $0.dataLocationExternal }
  }

  /// The model's `ai.onnx` opset, raised to what its nodes were read at and what attnc's own
  /// ops' forms need (`minimumONNXOpset`: token merging's scatters with reduction), or `target`.
  static func writtenOpset(_ graph: Graph, target: Int?) throws -> Int {
    let declared = graph.info.opsets[""] ?? graph.info.opsets["ai.onnx"] ?? 0
    let needed = graph.nodes.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map(\.opset).max() ?? declared
    let forms = graph.nodes.compactMap { node in (node.op as? any ONNXExpressible).map { (node.opType, $0.minimumONNXOpset) } }
    let required = forms.max { $0.1 < $1.1 }
    let opset = max(declared, needed, required?.1 ?? 0)
    if let target {
      guard opsets.contains(target) else {
        throw AttncError(.usage, "--target-opset \(target) is outside the opsets attnc writes (\(opsets.lowerBound)–\(opsets.upperBound))")
      }
      if let required, target < required.1, required.1 > max(declared, needed) {
        throw AttncError(.usage, "--target-opset \(target) is older than \(required.1), which the standard form of \(required.0) needs")
      }
      guard target >= opset else {
        throw AttncError(.usage, "--target-opset \(target) is older than the model's opset \(opset); attnc writes the same or a newer one")
      }
      return target
    }
    guard opset >= opsets.lowerBound else {
      throw AttncError.unsupported("the model's opset \(opset) is older than \(opsets.lowerBound), the oldest attnc writes: pass --target-opset \(opsets.lowerBound) or later")
    }
    return opset
  }

  /// The IR version an opset needs (ONNX's release table).
  static func irVersion(forOpset opset: Int) -> Int {
    switch opset {
    case ...18: 8
    case 19...20: 9
    case 21...22: 10
    case 23...24: 11
    default: 12
    }
  }
}
