import AttncIR
import AttncONNX
import AttncRuntime
import AttncTensor
import Foundation

/// `convert --to onnx`: the conversion's rewritten graph written as a standard ONNX model, with
/// what attnc decided recorded in `metadata_props` beside the model's own entries.
public enum ONNXOutput {
  /// The metadata keys attnc adds (`attnc.layers` is JSON: one object per attention layer).
  public static let keys = ["attnc.producer", "attnc.source_sha256", "attnc.policy", "attnc.options", "attnc.layers"]

  /// `attnc.producer`, `attnc.source_sha256`, `attnc.policy`, `attnc.options` and
  /// `attnc.layers` (per layer: node, variant with its parameters, predicted ms, error and its
  /// source, why a requested variant was refused).
  public static func metadata(_ conversion: Compiler.Conversion) -> [(key: String, value: String)] {
    let plan = conversion.plan
    let layers = conversion.attention.map { outcome -> JSON in
      let decision = plan.decisions.first { $0.layer == outcome.layer }
      var fields: [(String, JSON)] = [
        ("layer", .int(outcome.layer)), ("node", .string(outcome.node)), ("variant", .string(outcome.variant.description)),
      ]
      if let decision, decision.predictedMilliseconds > 0 { fields.append(("predicted_ms", .number(decision.predictedMilliseconds))) }
      fields.append(("error", decision?.error.map { JSON.number($0) } ?? .null))
      fields.append(("error_source", .string(decision?.errorSource ?? "unmeasured")))
      if let refusal = outcome.refusal { fields.append(("refused", .string(refusal))) }
      return .object(fields)
    }
    return [
      ("attnc.producer", plan.producer),
      ("attnc.source_sha256", plan.sourceSHA256.map { String(format: "%02x", $0) }.joined()),
      ("attnc.policy", plan.policy),
      ("attnc.options", plan.options),
      ("attnc.layers", JSON.array(layers).rendered()),
    ]
  }

  /// Writes the conversion to `path` (weights in `<name>.data` when the source kept external
  /// data or they pass 2 GB).
  /// - Parameter source: the model converted (whether it used external data).
  /// - Returns: the data file's path, when one was written.
  /// - Throws: `.unsupported` naming the node with no standard form and why.
  @discardableResult
  public static func write(_ conversion: Compiler.Conversion, source: String, to path: String, targetOpset: Int?) throws -> String? {
    var options = ONNXExport.Options(targetOpset: targetOpset, metadata: metadata(conversion))
    options.externalData = try withContext(source) { try ONNXExport.usesExternalData(source) }
    return try withContext(path) { try ONNXExport.write(conversion.graph, to: path, options: options) }
  }
}
