import AttncKernels

/// The attention variants as the command line names and describes them.
public enum VariantCatalog {
  /// Every variant's name, comma separated, in the registry's order.
  public static let names = AttentionVariants.all.map(\.name).joined(separator: ", ")

  /// Checks that `setting` (`NAME[:key=value,...]`) names a variant with valid parameters.
  /// - Throws: the `AttncError` that `AttentionVariants.parse` gives for it.
  public static func check(_ setting: String) throws {
    _ = try AttentionVariants.parse(setting)
  }

  /// "key weights ok", "no key weights", or "key weights ok (not random=1)" when a parameter's
  /// bound (the others at their defaults) turns the support off.
  static func keyWeightSupport(_ d: AttentionVariantDefinition) -> String {
    let defaults = (try? d.resolve([:])) ?? VariantParameters([:])
    guard d.supportsKeyWeights(defaults) else { return "no key weights" }
    var exceptions: [String] = []
    for p in d.parameters {
      for bound in [p.range.lowerBound, p.range.upperBound] where bound != p.defaultValue {
        guard let parameters = try? d.resolve([p.name: bound]), !d.supportsKeyWeights(parameters) else { continue }
        exceptions.append("\(p.name)=\(bound == bound.rounded() ? String(Int(bound)) : String(bound))")
      }
    }
    return exceptions.isEmpty ? "key weights ok" : "key weights ok (not \(exceptions.joined(separator: ", ")))"
  }

  /// The `attnc variants` listing: name, what it computes, limits, parameters with defaults.
  public static var listing: String {
    var lines: [String] = []
    for d in AttentionVariants.all {
      var limits: [String] = []
      limits.append(d.supportsCausal ? "causal ok" : "encoder only")
      limits.append(d.supportsKeyPadding ? "key padding ok" : "no padding mask")
      limits.append(keyWeightSupport(d))
      if d.changesScoreFunction { limits.append("changes the score function") }
      lines.append("\(d.name)")
      lines.append("    \(d.summary)")
      lines.append("    \(limits.joined(separator: ", "))")
      for p in d.parameters {
        let value = p.choices.isEmpty ? p.text(p.defaultValue) : p.choices.joined(separator: "|")
        // The name column is 22 wide; a longer one (a list of choices) keeps a space before the help.
        let name = "    \(p.name)=\(value)"
        lines.append((name.count < 22 ? name.padding(toLength: 22, withPad: " ", startingAt: 0) : name + " ") + p.help)
      }
    }
    return lines.joined(separator: "\n")
  }
}
