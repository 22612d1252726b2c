import AttncRuntime

extension Plan {
  /// Values for every symbol of the plan's inputs: names containing "batch" (any case) bound to
  /// `batch`, symbols only a KV cache's inputs have (inputs named `past…`: the cache length) to 0,
  /// so a decoder with a cache sees a prompt of `sequence` tokens, and every other symbol to
  /// `sequence`; then `overrides` applied on top. This is how synthetic inputs (calibration,
  /// `attnc bench`) and the cost model's predictions size a plan.
  public func symbolBindings(batch: Int, sequence: Int, overrides: [String: Int] = [:]) -> [String: Int] {
    var result: [String: Int] = [:]
    var outsideCache: Set<String> = []
    for slot in inputs where !slots[slot].name.lowercased().hasPrefix("past") {
      for dim in slots[slot].dims { outsideCache.formUnion(dim.symbols) }
    }
    for slot in inputs {
      for dim in slots[slot].dims {
        for symbol in dim.symbols where result[symbol] == nil {
          result[symbol] = symbol.lowercased().contains("batch") ? batch : outsideCache.contains(symbol) ? sequence : 0
        }
      }
    }
    result.merge(overrides) { _, new in new }
    return result
  }
}
