import AttncCost
import AttncKernels
import AttncTensor

/// How far key/value token merging is from exact attention on captured heads (the datasets of
/// `AttentionQuality.datasets(at:)`), measured like the numpy tool's `tome kv-merge` rows.
///
/// Per head (`q`, `k`, `v` of `[N, d]`, q prescaled): match the keys by their own cosine
/// similarity (`TokenMerge.match`, metric = that head's keys, nothing protected), merge
/// `r = ⌊fraction·N⌋` keys and values by size-weighted mean (all sizes 1 before), and attend with
/// every one of the `N` queries, `softmax(q·k'ᵀ + log s') · v'` (without the `log s'` term when
/// `proportional` is false). The error is `‖Ô − O‖_F / ‖O‖_F` against `softmax(q·kᵀ)·v`.
public enum TokenMergeQuality {
  /// One dataset's summary over heads.
  public struct Row: Sendable {
    public var dataset: String
    public var merged: Int
    public var median: Double
    public var p10: Double
    public var p90: Double
    /// Heads measured (all layers).
    public var heads: Int
  }

  /// Measures `dataset` with `fraction` of the keys merged per head.
  /// - Throws: `fraction` outside `[0, 0.5]`; a kernel rejecting the dataset's shapes.
  public static func evaluate(
    _ dataset: AttentionQuality.Dataset, fraction: Double = 0.25, proportional: Bool = true
  ) throws -> Row {
    guard fraction >= 0, fraction <= 0.5 else {
      throw AttncError(.usage, "token merge fraction must be in [0, 0.5], got \(fraction)")
    }
    var errors: [Double] = []
    let merged = Int(fraction * Double(dataset.tokens))
    for layer in dataset.layers {
      let (heads, tokens) = (layer.k.shape[1], layer.k.shape[2])
      let exact = try TiledAttention.run(q: layer.q, k: layer.k, v: layer.v, mask: .none, options: .init(scale: 1))
      // Heads play the batch axis of the token-merge kernels.
      let keys = layer.k.reshaped([heads, tokens, layer.k.shape[3]])
      let values = layer.v.reshaped([heads, tokens, layer.v.shape[3]])
      let matching = try TokenMerge.match(metric: keys, r: merged)
      let ones = Tensor.float([Float](repeating: 1, count: heads * tokens), [heads, tokens])
      let (mergedKeys, sizes) = try TokenMerge.merge(x: keys, sizes: ones, matching: matching)
      let (mergedValues, _) = try TokenMerge.merge(x: values, sizes: ones, matching: matching)
      let remaining = matching.outputTokens
      var mask = TiledAttention.Mask.none
      if proportional {
        mask = .bias(try TokenMerge.proportionalBias(sizes: sizes).reshaped([1, heads, 1, remaining]))
      }
      let approximate = try TiledAttention.run(
        q: layer.q, k: mergedKeys.reshaped([1, heads, remaining, layer.k.shape[3]]),
        v: mergedValues.reshaped([1, heads, remaining, layer.v.shape[3]]), mask: mask, options: .init(scale: 1))
      let size = layer.q.shape[2] * layer.v.shape[3]
      for head in 0..<heads {
        let range = (head * size)..<((head + 1) * size)
        errors.append(AttentionQuality.relativeError(approximate.floats[range], exact.floats[range]))
      }
    }
    return Row(
      dataset: dataset.name, merged: merged, median: AttentionQuality.percentile(errors, 50),
      p10: AttentionQuality.percentile(errors, 10), p90: AttentionQuality.percentile(errors, 90), heads: errors.count)
  }
}
