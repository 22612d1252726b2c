import AttncTensor
import CAttnc

extension TiledAttention {
  /// Query rows per head up to which a step on a KV cache is a decoding step: it runs the row
  /// kernel, exact (`attnc_attention_rows_limit()`).
  public static var decodeRows: Int { attnc_attention_rows_limit() }

  /// Exact attention on a KV cache that grows by this step: `K = Concat(pastK, newK)` and
  /// `V = Concat(pastV, newV)` along the key axis, as exporters write decoders with a cache.
  /// Returns `[Y, K, V]`: the output and the present keys and values.
  ///
  /// A decoding step (at most `decodeRows` query rows) reads the past once: each chunk of keys and
  /// values is copied into the present (streaming stores) and attended to in the same pass, so
  /// the cache is not streamed a second time by the attention. Longer steps (a prompt) copy, then
  /// run the tiled kernel.
  /// - Parameters: `past` `[B, Hkv, P, d]` and `[B, Hkv, P, dv]`; `new` `[B, Hkv, N, ·]`; `q`
  ///   `[B, Hq, S, d]`; `mask` over `P + N` keys; `output` gives the memory of Y, K and V by index.
  /// - Throws: a message naming the operand whose shape does not fit.
  public static func runAppending(
    q: Tensor, past: (keys: Tensor, values: Tensor), new: (keys: Tensor, values: Tensor), mask: Mask,
    options: Options, output: (Int) -> FloatOutput = { _ in FloatBuffer.init(uninitializedCount:) }
  ) throws -> [Tensor] {
    for (name, pair) in [("past", past), ("new", new)] {
      guard pair.keys.rank == 4, pair.values.rank == 4, pair.keys.isFloat, pair.values.isFloat,
        pair.keys.shape[..<3] == pair.values.shape[..<3]
      else {
        throw AttncError.invalid("\(name) keys \(pair.keys.shape) and values \(pair.values.shape) are not [B, H, L, d] runs of one cache")
      }
    }
    guard past.keys.shape[0] == new.keys.shape[0], past.keys.shape[1] == new.keys.shape[1],
      past.keys.shape[3] == new.keys.shape[3], past.values.shape[3] == new.values.shape[3]
    else {
      throw AttncError.invalid("the cache \(past.keys.shape) and the new keys \(new.keys.shape) do not concatenate along the key axis")
    }
    guard options.rowKernel && q.rank == 4 && (1...decodeRows).contains(q.shape[2]) else {
      let keys = try Movement.concat([past.keys, new.keys], axis: 2, output: output(1))
      let values = try Movement.concat([past.values, new.values], axis: 2, output: output(2))
      return [try run(q: q, k: keys, v: values, mask: mask, options: options, output: output(0)), keys, values]
    }
    var keyShape = past.keys.shape, valueShape = past.values.shape
    keyShape[2] += new.keys.shape[2]
    valueShape[2] += new.values.shape[2]
    var keys = Tensor.float(output(1)(keyShape.reduce(1, *)), keyShape, dtype: past.keys.dtype)
    var values = Tensor.float(output(2)(valueShape.reduce(1, *)), valueShape, dtype: past.values.dtype)
    let (batch, heads, _, queries, total, _, valueDepth) = try operandShape(q: q, k: keys, v: values)
    let term = try additiveTerm(mask, batch: batch, heads: heads, queries: queries, keys: total)
    var y = output(0)(batch * heads * queries * valueDepth)
    keys.floats.withUnsafeMutableBufferPointer { presentKeys in
      values.floats.withUnsafeMutableBufferPointer { presentValues in
        y.withUnsafeMutableBufferPointer { y in
          guard let base = y.baseAddress, let k = presentKeys.baseAddress, let v = presentValues.baseAddress else { return }
          runRows(
            q: q, keys: [past.keys, new.keys], values: [past.values, new.values], term: term, options: options,
            output: base, present: PresentOutputs(keys: k, values: v))
        }
      }
    }
    try y.withUnsafeMutableBufferPointer { y in
      try recomputeFullyMaskedRows(q: q, k: keys, v: values, mask: mask, options: options, output: y)
    }
    return [.float(y, [batch, heads, queries, valueDepth]), keys, values]
  }
}
