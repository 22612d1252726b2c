import AttncIR
import AttncRuntime

/// What a batch conversion did with one model: a row of the summary table and of the report.
public struct ModelResult: Sendable {
  /// `converted`, `skipped` (an up-to-date plan was there) or `failed`.
  public enum Status: String, Sendable {
    case converted, skipped, failed
  }

  /// The model file, as found.
  public var input: String
  /// The plan file (written, kept, or that would have been written).
  public var output: String
  public var status: Status
  /// The failure, outermost context first (`model.onnx: node 'x' (Softmax): ...`); nil unless
  /// failed.
  public var error: String?
  /// Why the model was converted rather than skipped ("no plan yet", "--force", "the options
  /// differ", "the existing plan is unreadable: ..."); nil when skipped or failed.
  public var reason: String?
  /// Attention layers the matcher found; nil when failed.
  public var layersMatched: Int?
  /// The variants the layers run, each with its number of layers, in order of first layer.
  public var variants: [(variant: String, layers: Int)] = []
  /// Σ predicted exact milliseconds / Σ predicted chosen milliseconds over the layers, or nil
  /// when the plan carries no prediction.
  public var predictedSpeedup: Double?
  /// The model file plus its external data.
  public var inputBytes: Int
  /// The plan file's size; nil when failed.
  public var planBytes: Int?
  /// Wall time spent on the model.
  public var seconds: Double
  /// When work on the model began, in seconds after the batch began.
  public var started: Double = 0
  /// Wall time per stage (`check`, `compile`, `write`), in order.
  public var stages: [(name: String, seconds: Double)] = []

  /// Fills `layersMatched`, `variants` and `predictedSpeedup` from a plan's decisions (one per
  /// matched attention layer).
  mutating func describe(_ decisions: [Plan.Decision]) {
    layersMatched = decisions.count
    variants = []
    for decision in decisions {
      let name = Self.variantName(decision)
      if let index = variants.firstIndex(where: { $0.variant == name }) {
        variants[index].layers += 1
      } else {
        variants.append((name, 1))
      }
    }
    predictedSpeedup = Self.predictedSpeedup(decisions)
  }

  /// `performer:m=128`: the decision's variant with its numeric parameters but the per-layer
  /// seed (which differs on every layer; the plan records it).
  static func variantName(_ decision: Plan.Decision) -> String {
    var numbers: [String: Double] = [:]
    for (key, value) in decision.parameters where key != "seed" {
      if case .float(let number) = value { numbers[key] = number }
      if case .int(let number) = value { numbers[key] = Double(number) }
    }
    return AttentionVariant(name: decision.variant, parameters: numbers).description
  }

  /// Σ over layers of the exact (`softmax`) candidate's predicted time, divided by Σ of the
  /// chosen variant's; nil when there are no layers or any layer lacks a prediction (no
  /// candidates, no softmax candidate, or a prediction of 0).
  static func predictedSpeedup(_ decisions: [Plan.Decision]) -> Double? {
    guard !decisions.isEmpty else { return nil }
    var exact = 0.0
    var chosen = 0.0
    for decision in decisions {
      guard decision.predictedMilliseconds > 0,
        let softmax = decision.candidates.first(where: { $0.variant == "softmax" && $0.parameters.isEmpty }),
        softmax.predictedMilliseconds > 0
      else { return nil }
      exact += softmax.predictedMilliseconds
      chosen += decision.predictedMilliseconds
    }
    return exact / chosen
  }
}
