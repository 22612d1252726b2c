import AttncRuntime

extension Plan {
  /// Values for every symbol of the plan's inputs: names containing "batch" (any case) bound to
  /// `batch`, every other symbol to `sequence`, then `overrides` applied on top. This is how
  /// synthetic inputs (calibration, `attnc bench`) and the cost model's predictions size a plan.
  public func symbolBindings(batch: Int, sequence: Int, overrides: [String: Int] = [:]) -> [String: Int] {
    var result: [String: Int] = [:]
    for slot in inputs {
      for dim in slots[slot].dims {
        for symbol in dim.symbols where result[symbol] == nil {
          result[symbol] = symbol.lowercased().contains("batch") ? batch : sequence
        }
      }
    }
    result.merge(overrides) { _, new in new }
    return result
  }
}
