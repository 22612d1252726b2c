import AttncTensor

/// ONNX `RotaryEmbedding`: rotates feature pairs `(x₁, x₂)` of each head's first `rotaryDim`
/// features by the position's angle, `(x₁·cos − x₂·sin, x₁·sin + x₂·cos)`; a pair is
/// `(k, k + R/2)`, or `(2k, 2k + 1)` when interleaved. Features past `rotaryDim` pass through.
public enum RotaryEmbeddingKernel {
  /// - Parameters:
  ///   - x: `[B, H, S, D]`, or `[B, S, H·D]` with `numHeads`.
  ///   - cos, sin: `[maxPosition, R/2]` tables indexed by `positions [B, S]`, or `[B, S, R/2]`
  ///     per token when `positions` is nil.
  ///   - rotaryDim: `R`; 0 = the head size.
  /// - Throws: "position 70 is outside the cos/sin tables of 64 rows", shape mismatches.
  public static func run(
    _ x: Tensor, cos: Tensor, sin: Tensor, positions: Tensor?, interleaved: Bool, rotaryDim: Int, numHeads: Int
  ) throws -> Tensor {
    guard x.isFloat, x.rank == 4 || (x.rank == 3 && numHeads > 0 && x.shape[2] % numHeads == 0) else {
      throw AttncError.invalid("RotaryEmbedding takes float X [B, H, S, D] or [B, S, H·D] with num_heads, got \(x.shape)")
    }
    let batch = x.shape[0]
    let (heads, length, depth) = x.rank == 4 ? (x.shape[1], x.shape[2], x.shape[3]) : (numHeads, x.shape[1], x.shape[2] / numHeads)
    let rotary = rotaryDim == 0 ? depth : rotaryDim
    let half = rotary / 2
    guard rotary % 2 == 0, rotary <= depth, cos.shape.last == half, sin.shape == cos.shape else {
      throw AttncError.invalid("cos/sin caches \(cos.shape), \(sin.shape) do not hold \(half) angles per position (rotary dim \(rotary), head size \(depth))")
    }
    let rows = cos.count / max(half, 1)
    /// Row of the cos/sin tables for token `(b, s)`.
    func tableRow(_ b: Int, _ s: Int) throws -> Int {
      guard let positions else { return b * length + s }
      let position = Int(positions.ints[b * length + s])
      guard position >= 0, position < rows else {
        throw AttncError.invalid("position \(position) is outside the cos/sin tables of \(rows) rows")
      }
      return position
    }
    if let positions { guard positions.shape == [batch, length] else { throw AttncError.invalid("position_ids \(positions.shape) is not [\(batch), \(length)]") } }
    else { guard cos.shape == [batch, length, half] else { throw AttncError.invalid("without position_ids the caches must be [\(batch), \(length), \(half)], got \(cos.shape)") } }
    var y = x.floats
    for b in 0..<batch {
      for s in 0..<length {
        let row = try tableRow(b, s) * half
        for h in 0..<heads {
          let base = x.rank == 4 ? ((b * heads + h) * length + s) * depth : ((b * length + s) * heads + h) * depth
          for k in 0..<half {
            let (i1, i2) = interleaved ? (base + 2 * k, base + 2 * k + 1) : (base + k, base + k + half)
            let (c, n) = (cos.floats[row + k], sin.floats[row + k])
            let (x1, x2) = (x.floats[i1], x.floats[i2])
            y[i1] = c * x1 - n * x2
            y[i2] = n * x1 + c * x2
          }
        }
      }
    }
    return Tensor.float(y, x.shape, dtype: x.dtype)
  }
}
