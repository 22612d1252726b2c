extension Dim {
  /// Values for this dim's symbols that make it at least `n`, as close as it gets: the symbols
  /// of `fixed` keep their values, every other symbol takes one shared value `v`, the smallest
  /// for which the dim reaches `n` (the dim grows with `v`: `seq`, `seq + 8`, `hw/14*hw/14 + 1`,
  /// where `n = 4097` gives `hw = 896`). Nil when the dim has no free symbol, does not evaluate,
  /// or no `v` up to 2^24 reaches `n`.
  ///
  /// This is how a sequence length becomes symbol values when the model's length is not a symbol
  /// of its own (a ViT's token count is a function of its image size).
  public func bindings(reaching n: Int, fixed: [String: Int] = [:]) -> [String: Int]? {
    let free = symbols.subtracting(fixed.keys)
    guard !free.isEmpty else { return nil }
    func bound(_ v: Int) -> [String: Int] { fixed.merging(free.map { ($0, v) }) { old, _ in old } }
    func value(_ v: Int) -> Int? { evaluate(bound(v)) }
    // The common case first: the dim is the symbol (give or take a constant that n absorbs).
    if let at = value(n), at == n { return bound(n) }
    var (low, high) = (0, 1)
    while let at = value(high), at < n {
      guard high < 1 << 24 else { return nil }
      (low, high) = (high, high * 2)
    }
    guard value(high) != nil else { return nil }
    // Smallest v in (low, high] reaching n.
    while high - low > 1 {
      let mid = (low + high) / 2
      if let at = value(mid), at >= n { high = mid } else { low = mid }
    }
    return bound(high)
  }
}
