import AttncIR
import AttncONNX
import AttncPasses
import AttncTensor
import Foundation

/// A model read from disk: the imported graph, the canonicalized graph and what the passes did.
public struct LoadedModel: Sendable {
  /// The path as the user gave it (used in messages).
  public var path: String
  /// The graph as imported, before any pass.
  public var imported: Graph
  /// The graph after canonicalization.
  public var canonical: Graph
  public var report: RewriteReport
}

/// Reads ONNX files into the IR. Every error carries the file name as its outermost context.
public enum ModelLoader {
  /// Decodes, imports and canonicalizes the model at `path`.
  /// - Throws: `AttncError` whose description starts with `path`.
  public static func load(_ path: String, options: ImportOptions = ImportOptions()) throws
    -> LoadedModel
  {
    try withContext(path) {
      let file = try MappedFile(path: path)
      guard file.count > 0 else { throw AttncError.invalid("file is empty") }
      let model = try OnnxDecoder.decodeModel(file.bytes)
      let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
      let imported = try Importer(modelDirectory: directory, options: options).importModel(model)
      var canonical = imported
      let report = try Canonicalize.pipeline.run(&canonical)
      return LoadedModel(path: path, imported: imported, canonical: canonical, report: report)
    }
  }

  /// Throws one error listing every unsupported op type with its node names, if any, and for
  /// control flow (`If`, `Loop`, `Scan`) what to convert instead.
  ///
  /// `unsupported op types: Foo (nodes 'a', 'b'); Bar (node 'c')`.
  public static func checkSupported(_ graph: Graph) throws {
    var byType: [(String, [String])] = []
    for node in graph.nodes where !node.isSupported {
      let type = node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)"
      if let index = byType.firstIndex(where: { $0.0 == type }) {
        byType[index].1.append(node.name)
      } else {
        byType.append((type, [node.name]))
      }
    }
    guard !byType.isEmpty else { return }
    let parts = byType.map { type, nodes in
      let names = nodes.map { "'\($0)'" }.joined(separator: ", ")
      return "\(type) (\(nodes.count == 1 ? "node" : "nodes") \(names))"
    }
    let controlFlow = byType.contains { ["If", "Loop", "Scan"].contains($0.0) }
    var hint = controlFlow ? "; " + controlFlowHint(graph) : ""
    if byType.contains(where: { $0.0.hasPrefix(nchwcDomain + ".") }) { hint += "; " + nchwcHint }
    throw AttncError.unsupported(
      "unsupported op \(byType.count == 1 ? "type" : "types"): \(parts.joined(separator: "; "))\(hint)")
  }

  /// The domain of ONNX Runtime's blocked-layout kernels (`Conv`, `ReorderInput`, `ReorderOutput`…).
  static let nchwcDomain = "com.microsoft.nchwc"

  /// What to do about a file ONNX Runtime's optimizer wrote at its layout level.
  static let nchwcHint =
    "com.microsoft.nchwc ops are ONNX Runtime's blocked memory layout for the vector width of the machine that "
    + "saved the file, which its optimizer writes at level 99 (ORT_ENABLE_ALL; it warns that such files belong to the "
    + "machine that made them): convert the model before that optimization, or optimize it at level 2 "
    + "(ORT_ENABLE_EXTENDED) or below"

  /// What to do about `If`, `Loop` and `Scan`, which the refusal adds: for an `If` whose
  /// condition is a graph input, the `--branch` option that picks each branch.
  static func controlFlowHint(_ graph: Graph) -> String {
    let general =
      "If, Loop and Scan are control flow, which attnc's plans do not have (an If is read when its condition is a "
      + "constant, or a graph input given with --branch)"
    let chosenByInput = graph.nodes.first { node in
      node.opType == "If" && node.domain.isEmpty && node.inputs.first.map { $0.map(graph.inputs.contains) ?? false } == true
    }
    guard let node = chosenByInput, let condition = node.inputs[0].map({ graph.values[$0].name }) else { return general }
    return "\(general): \(node.label) takes its branch from the graph input '\(condition)', so convert once per branch, "
      + "with --branch \(condition)=true (then_branch) and --branch \(condition)=false (else_branch)"
      + (condition == "use_cache_branch" ? " (Optimum's decoder_model_merged.onnx: true for steps on the cache, false for the first)" : "")
  }
}
