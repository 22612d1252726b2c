import AttncRuntime
import AttncTensor

extension Plan {
  /// Values for every symbol of the plan's inputs: names containing "batch" (any case) bound to
  /// `batch`, symbols only a KV cache's inputs have (inputs named `past…`: the cache length) to 0,
  /// so a decoder with a cache sees a prompt of `sequence` tokens, and every other symbol to
  /// `sequence`; then `overrides` applied on top. This is how synthetic inputs (calibration,
  /// `attnc bench`) and the cost model's predictions size a plan.
  ///
  /// `sequence` is a token count: when the first attention's query length is an expression of
  /// the symbols rather than one of them (a ViT's `hw/14*hw/14 + 1`), its symbols take the values
  /// that make it `sequence` (`hw = 896` for 4097 tokens), not `sequence` itself.
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
    if let tokens = tokenLength, tokens.evaluate(result) != sequence {
      let fixed = result.filter { !outsideCache.contains($0.key) || $0.key.lowercased().contains("batch") }
      if let solved = tokens.bindings(reaching: sequence, fixed: fixed) { result.merge(solved) { _, new in new } }
    }
    result.merge(overrides) { _, new in new }
    return result
  }

  /// The first attention call's query length (`[B, H, S, d]`'s `S`), when it is symbolic: the
  /// model's token count as an expression of its input symbols.
  var tokenLength: Dim? {
    for instruction in instructions where instruction.kernel == "FusedAttention" {
      guard let slot = instruction.inputs.first ?? nil else { continue }
      let dims = slots[slot].dims
      if dims.count == 4, dims[2].value == nil { return dims[2] }
    }
    return nil
  }
}
