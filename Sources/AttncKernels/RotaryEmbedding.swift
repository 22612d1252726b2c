import AttncTensor
import CAttnc

/// Rotary position embedding: rotates feature pairs `(x₁, x₂)` of each head's first `rotaryDim`
/// features by the position's angle, `(x₁·cos − x₂·sin, x₁·sin + x₂·cos)`; a pair is
/// `(k, k + R/2)`, or `(2k, 2k + 1)` when interleaved. Features past `rotaryDim` pass through.
/// The loops are C (`attnc_rotary_rows`), split over the threads by rows.
///
/// The cos/sin tables hold one angle per pair (`R/2` entries a row, ONNX's `RotaryEmbedding`) or
/// one per feature (`R` entries, as exporters' graphs multiply `x·cos + rotate_half(x)·sin`; then
/// each feature of a pair reads its own entry, exactly what the graph computes).
public enum RotaryEmbeddingKernel {
  /// ONNX `RotaryEmbedding` (opset 23) and ONNX Runtime's `com.microsoft.RotaryEmbedding`.
  /// - Parameters:
  ///   - x: `[B, H, S, D]`, or `[B, S, H·D]` with `numHeads`.
  ///   - cos, sin: `[maxPosition, R/2]` tables indexed by `positions [B, S]`, or `[B, S, R/2]`
  ///     per token when `positions` is nil. A `positions` of one element is the first token's
  ///     position, the others following it (ONNX Runtime's form).
  ///   - rotaryDim: `R`; 0 = the head size.
  /// - Throws: "position 70 is outside the cos/sin tables of 64 rows", shape mismatches.
  public static func run(
    _ x: Tensor, cos: Tensor, sin: Tensor, positions: Tensor?, interleaved: Bool, rotaryDim: Int, numHeads: Int,
    output: FloatOutput = FloatBuffer.init(uninitializedCount:)
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
    var tokenRows = [Int](repeating: 0, count: batch * length)
    if let positions {
      let single = positions.count == 1
      guard single || positions.shape == [batch, length] else {
        throw AttncError.invalid("position_ids \(positions.shape) is not [\(batch), \(length)] or one start position")
      }
      for b in 0..<batch {
        for s in 0..<length {
          let position = single ? Int(positions.ints[0]) + s : Int(positions.ints[b * length + s])
          guard position >= 0, position < rows else {
            throw AttncError.invalid("position \(position) is outside the cos/sin tables of \(rows) rows")
          }
          tokenRows[b * length + s] = position
        }
      }
    } else {
      guard cos.shape == [batch, length, half] else {
        throw AttncError.invalid("without position_ids the caches must be [\(batch), \(length), \(half)], got \(cos.shape)")
      }
      for token in tokenRows.indices { tokenRows[token] = token }
    }
    // Rows of X in memory order: (b, h, s) for [B, H, S, D], (b, s, h) for [B, S, H·D].
    var offsets = [Int](repeating: 0, count: batch * heads * length)
    for b in 0..<batch {
      for h in 0..<heads {
        for s in 0..<length {
          let row = x.rank == 4 ? (b * heads + h) * length + s : (b * length + s) * heads + h
          offsets[row] = tokenRows[b * length + s] * half
        }
      }
    }
    return rotate(x, depth: depth, rotary: rotary, interleaved: interleaved, cos: cos, sin: sin, offsets: offsets, width: half, output: output)
  }

  /// attnc's fused form of the exporters' `x·cos + rotate_half(x)·sin` (`FusedRotary`): `cos` and
  /// `sin` broadcast to X's leading axes (`[1, 1, S, W]` against `[B, H, S, D]`), with `W` = `R`
  /// (one entry per feature) or `R/2`.
  /// - Throws: when the tables do not broadcast to X or have another width.
  public static func runBroadcast(
    _ x: Tensor, cos: Tensor, sin: Tensor, rotaryDim: Int, interleaved: Bool,
    output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    guard x.isFloat, x.rank >= 1, let depth = x.shape.last else { throw AttncError.invalid("rotary X must be float, got \(x.shape)") }
    let rotary = rotaryDim == 0 ? depth : rotaryDim
    guard rotary % 2 == 0, rotary <= depth, cos.shape == sin.shape, cos.rank <= x.rank, let width = cos.shape.last,
      width == rotary || width == rotary / 2
    else {
      throw AttncError.invalid("cos/sin tables \(cos.shape), \(sin.shape) do not hold \(rotary) or \(rotary / 2) angles a row for X \(x.shape)")
    }
    let leading = Array(x.shape.dropLast())
    let tableLeading = [Int](repeating: 1, count: x.rank - cos.rank) + cos.shape.dropLast()
    var strides = [Int](repeating: 0, count: leading.count)
    var stride = width
    for axis in leading.indices.reversed() {
      guard tableLeading[axis] == leading[axis] || tableLeading[axis] == 1 else {
        throw AttncError.invalid("cos/sin tables \(cos.shape) do not broadcast to X \(x.shape)")
      }
      strides[axis] = tableLeading[axis] == 1 ? 0 : stride
      stride *= tableLeading[axis]
    }
    let offsets = leading.isEmpty ? [0] : stridedOffsets(leading, strides: strides)
    return rotate(x, depth: depth, rotary: rotary, interleaved: interleaved, cos: cos, sin: sin, offsets: offsets, width: width, output: output)
  }

  /// Rows of `depth` features of `x`, row `r` turned by the tables at `offsets[r]`.
  static func rotate(
    _ x: Tensor, depth: Int, rotary: Int, interleaved: Bool, cos: Tensor, sin: Tensor, offsets: [Int], width: Int,
    output: FloatOutput
  ) -> Tensor {
    var y = output(x.count)
    let rows = offsets.count
    x.floats.withUnsafeBufferPointer { xp in
      cos.floats.withUnsafeBufferPointer { cp in
        sin.floats.withUnsafeBufferPointer { sp in
          y.withUnsafeMutableBufferPointer { yp in
            offsets.withUnsafeBufferPointer { op in
              guard let xb = xp.baseAddress, let yb = yp.baseAddress, let ob = op.baseAddress else { return }
              Parallel.chunks(rows, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(depth, 1))) { range in
                attnc_rotary_rows(
                  xb + range.lowerBound * depth, yb + range.lowerBound * depth, range.count, depth, rotary,
                  interleaved ? 1 : 0, cp.baseAddress, sp.baseAddress, ob + range.lowerBound, width)
              }
            }
          }
        }
      }
    }
    return Tensor.float(y, x.shape, dtype: x.dtype)
  }
}
