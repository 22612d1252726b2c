import AttncCodegen
import AttncIR
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// The conversion pipeline: ONNX file → IR → canonical IR → plan.
public enum Compiler {
  /// This build's version, recorded in plans.
  public static let version = "attnc 0.1.0"

  /// Loads, canonicalizes and lowers `path` under `policy` (only `exact` exists so far).
  /// - Throws: `AttncError` with the path as context.
  public static func plan(_ path: String, options: ImportOptions = ImportOptions(), policy: String = "exact") throws -> (model: LoadedModel, plan: Plan) {
    let model = try ModelLoader.load(path, options: options)
    try withContext(path) { try ModelLoader.checkSupported(model.imported) }
    let digest = try withContext(path) { () throws -> [UInt8] in
      let file = try MappedFile(path: path)
      return SHA256.digest(file.bytes)
    }
    let plan = try withContext(path) { () throws -> Plan in
      var graph = model.canonical
      try AttentionMatching.pipeline.run(&graph)
      try Fusion.pipeline.run(&graph)
      return try Lower.plan(graph, sourceSHA256: digest, producer: version, policy: policy)
    }
    return (model, plan)
  }
}
