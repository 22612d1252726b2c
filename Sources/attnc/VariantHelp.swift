import AttncKit

/// The attention outcome table `convert` prints.
enum VariantHelp {
  /// `  attention: 6 layers` then one line per layer: its variant, or the refusal.
  static func outcomeTable(_ outcomes: [Compiler.AttentionOutcome], requested: String?) -> String {
    var lines = ["  attention: \(outcomes.count) matched layer\(outcomes.count == 1 ? "" : "s")"]
    for outcome in outcomes {
      var line = "    layer \(outcome.layer) \(outcome.node): \(outcome.variant)"
      if let refusal = outcome.refusal { line += "  (kept exact: \(refusal))" }
      lines.append(line)
    }
    if let requested, !outcomes.isEmpty, outcomes.allSatisfy({ $0.refusal != nil }) {
      lines.append("  note: no layer could take '\(requested)'")
    }
    return lines.joined(separator: "\n")
  }
}
