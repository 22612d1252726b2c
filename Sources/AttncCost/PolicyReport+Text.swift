import Foundation

extension PolicyReport {
  /// The per-layer table `convert` prints: what each layer runs, its predicted time against
  /// exact attention, its error and where the error came from, and why.
  public var table: String {
    func ms(_ seconds: Double?) -> String { seconds.map { String(format: "%.3f", $0 * 1e3) } ?? "-" }
    func error(_ value: Double?) -> String { value.map { String(format: "%.4f", $0) } ?? "-" }
    var rows = [["layer", "node", "N", "variant", "pred ms", "exact ms", "error", "source", "why"]]
    for layer in layers {
      let chosen = layer.chosenCandidate
      rows.append([
        String(layer.layer), layer.node, String(layer.tokens), layer.chosen, ms(chosen?.predictedSeconds), ms(layer.exactCandidate?.predictedSeconds),
        error(chosen?.error), chosen?.errorSource ?? "-", layer.reason,
      ])
    }
    let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
    var lines = [
      "attention under --policy \(policy.rawValue), predicted at seq \(seqLen)\(auto ? " (length-dispatched: seq-len auto)" : ""); errors on \(calibration)"
    ]
    for row in rows {
      lines.append("  " + zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ") + "  " + row.last!)
    }
    lines.append(String(
      format: "  predicted at seq %d: attention %.2f -> %.2f ms, rest of the model %.2f ms; end to end %.2fx the ",
      seqLen, exactAttentionSeconds * 1e3, chosenAttentionSeconds * 1e3, otherSeconds * 1e3, speedup)
      + (unmergedSeconds == nil ? "exact plan's speed" : "unmerged exact plan's speed"))
    let total = predictedSecondsByKernel.values.reduce(0, +)
    let top = predictedSecondsByKernel.sorted { $0.value > $1.value }.prefix(6).map { kernel, seconds in
      kernel + String(format: " %.2f ms (%.0f%%)", seconds * 1e3, total > 0 ? 100 * seconds / total : 0)
    }
    lines.append(String(format: "  predicted time by kernel (%.2f ms in all): ", total * 1e3) + top.joined(separator: ", "))
    if let outputError {
      lines.append(String(format: "  end-to-end output error on the calibration inputs: %.4f", outputError)
        + (mergeError.map { String(format: " (token merging alone: %.4f)", $0) } ?? "")
        + (reverted.isEmpty ? "" : "; put back to exact: layer " + reverted.map(String.init).joined(separator: ", ")))
    }
    return lines.joined(separator: "\n")
  }
}

extension PolicyReport {
  /// Predicted seconds per kernel at `seqLen` for the chosen plan: every call but attention by
  /// its own cost, the attention layers (`FusedAttention`) by their chosen variants' predictions.
  public var predictedSecondsByKernel: [String: Double] {
    var result = otherSecondsByKernel
    if !layers.isEmpty { result["FusedAttention", default: 0] += chosenAttentionSeconds }
    return result
  }
}

extension PolicyReport {
  /// Every candidate of every layer: cost, predicted time, error with its source, whether the
  /// layer and the policy allow it, and the choice (`*`).
  public var candidateTable: String {
    var lines = ["", "candidates per layer at seq \(seqLen), batch 1 (* = chosen)"]
    for layer in layers {
      lines.append("  layer \(layer.layer) \(layer.node)")
      lines.append("      variant        GFLOP   MB moved  extra MB   pred ms    error  source      allowed")
      for c in layer.candidates {
        let mark = c.setting == layer.chosen ? "  * " : "    "
        func right(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
        let numbers = String(format: "%9.3f %10.1f %9.2f ", c.cost.flops / 1e9, c.cost.bytes / 1e6, c.cost.extraMemoryBytes / 1e6)
          + right(c.predictedSeconds.map { String(format: "%.3f", $0 * 1e3) } ?? "-", 9) + " "
          + right(c.error.map { String(format: "%.4f", $0) } ?? "-", 8) + "  "
        lines.append(mark + "  " + c.setting.padding(toLength: 12, withPad: " ", startingAt: 0) + numbers
          + c.errorSource.padding(toLength: 12, withPad: " ", startingAt: 0) + (c.refusal.map { "no: \($0)" } ?? "yes"))
      }
      if let dispatch = layer.dispatch { lines.append("      by key length: \(dispatch)") }
    }
    return lines.joined(separator: "\n")
  }

  /// One row per (layer, candidate), for `inspect --format csv`.
  public var csv: String {
    var lines = ["layer,node,variant,gflops,bytes,extra_memory_bytes,predicted_ms,error,error_source,allowed,reason,chosen"]
    func quoted(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    for layer in layers {
      for c in layer.candidates {
        lines.append([
          String(layer.layer), quoted(layer.node), c.setting, String(c.cost.flops / 1e9), String(c.cost.bytes), String(c.cost.extraMemoryBytes),
          c.predictedSeconds.map { String($0 * 1e3) } ?? "", c.error.map { String($0) } ?? "", c.errorSource, c.allowed ? "true" : "false",
          quoted(c.refusal ?? ""), c.setting == layer.chosen ? "true" : "false",
        ].joined(separator: ","))
      }
    }
    return lines.joined(separator: "\n")
  }
}
