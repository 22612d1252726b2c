import AttncKernels
import AttncKit

/// Text about attention variants shared by `convert`, `variants` and `bench`.
enum VariantHelp {
  static let names = AttentionVariants.all.map(\.name).joined(separator: ", ")

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

  /// The `attnc variants` listing: name, what it computes, limits, parameters with defaults.
  static var listing: String {
    var lines: [String] = []
    for d in AttentionVariants.all {
      var limits: [String] = []
      limits.append(d.supportsCausal ? "causal ok" : "encoder only")
      limits.append(d.supportsKeyPadding ? "key padding ok" : "no padding mask")
      let defaults = (try? d.resolve([:])) ?? VariantParameters([:])
      limits.append(d.supportsKeyWeights(defaults) ? "key weights ok" : "no key weights")
      if d.changesScoreFunction { limits.append("changes the score function") }
      lines.append("\(d.name)")
      lines.append("    \(d.summary)")
      lines.append("    \(limits.joined(separator: ", "))")
      for p in d.parameters {
        let value = p.defaultValue == p.defaultValue.rounded() ? String(Int(p.defaultValue)) : String(p.defaultValue)
        lines.append("    \(p.name)=\(value)".padding(toLength: 22, withPad: " ", startingAt: 0) + p.help)
      }
    }
    return lines.joined(separator: "\n")
  }
}
