import AttncTensor

/// The kernels of the `TokenMerge` and `TokenUnmerge` ops (`Sources/AttncIR/Ops/TokenMerge.swift`):
/// one block's merge with its bookkeeping, built on `TokenMerge`'s matching, merge and unmerge.
///
/// Bookkeeping carried from block to block:
/// - `sizes [B, N]`: how many original tokens each current token stands for; 0 marks a padding
///   token (from the model's key-padding mask), which is protected and keeps size 0, so the
///   proportional-attention weight `size` of a padding key stays 0 (masked) in every later layer.
/// - `origin [B, N₀]`: for each original position, the current token holding it (unmerge gathers
///   with it).
public enum TokenMergeKernel {
  /// One block's merge of `r` tokens per batch item.
  /// - Parameters:
  ///   - x: `[B, N, D]` the residual stream.
  ///   - keys: `[B, H, N, d]` the block's attention keys (the similarity metric, averaged over heads).
  ///   - sizes: `[B, N]` float; nil = every token of size 1, or the padding mask's 0/1.
  ///   - origin: `[B, N₀]` int; nil = the identity (`N₀ = N`).
  ///   - padding: `[B, N]`, any numeric type, 0 = padding; read only when `sizes` is nil.
  ///   - protectFirst: the first token (a class token) never merges.
  /// - Returns: `x' [B, N − r, D]`, `sizes' [B, N − r]`, `origin' [B, N₀]`.
  /// - Throws: operands that do not fit, or a batch item with fewer than `r` mergeable tokens
  ///   (too short an input for the plan's schedule, or mostly padding).
  public static func merge(
    x: Tensor, keys: Tensor, sizes: Tensor?, origin: Tensor?, padding: Tensor?, r: Int, protectFirst: Bool = true
  ) throws -> [Tensor] {
    guard x.rank == 3, x.isFloat else { throw AttncError.invalid("token merge: x must be a float [B, N, D] tensor, got \(x.shape)") }
    let (batch, tokens) = (x.shape[0], x.shape[1])
    guard keys.rank == 4, keys.shape[0] == batch, keys.shape[2] == tokens else {
      throw AttncError.invalid("token merge: keys \(keys.shape) do not fit x \(x.shape) (expected [\(batch), H, \(tokens), d])")
    }
    let sizeValues: [Float]
    if let sizes {
      guard sizes.isFloat, sizes.shape == [batch, tokens] else {
        throw AttncError.invalid("token merge: sizes must be float [\(batch), \(tokens)], got \(sizes.shape)")
      }
      sizeValues = sizes.floats.owned
    } else if let padding {
      guard padding.shape == [batch, tokens] else {
        throw AttncError.invalid("token merge: the padding mask must be [\(batch), \(tokens)], got \(padding.shape)")
      }
      sizeValues = padding.isFloat ? padding.floats.map { $0 == 0 ? 0 : 1 } : padding.ints.map { $0 == 0 ? 0 : 1 }
    } else {
      sizeValues = [Float](repeating: 1, count: batch * tokens)
    }
    let metric = try TokenMerge.metric(keys: keys)
    guard metric.floats.allSatisfy({ $0.isFinite }) else { throw AttncError.invalid("token merge: the keys hold a non-finite value") }
    let width = metric.shape[2]
    var items: [TokenMerge.Assignment] = []
    for b in 0..<batch {
      var protected = Set((0..<tokens).filter { sizeValues[b * tokens + $0] == 0 })
      if protectFirst && tokens > 0 { protected.insert(0) }
      let mergeable = TokenMerge.mergeableCount(tokens: tokens, protected: protected)
      guard r <= mergeable else {
        throw AttncError.invalid(
          "token merge: batch item \(b) has \(mergeable) mergeable tokens of \(tokens) (\(protected.count) protected: class token and padding), cannot merge \(r); the input is too short for this plan's --token-merge schedule")
      }
      if r == 0 {
        items.append(.init(destination: Array(0..<tokens), order: Array(0..<tokens), merged: []))
      } else {
        let rows = Array(metric.floats[(b * tokens * width)..<((b + 1) * tokens * width)])
        items.append(TokenMerge.assignment(rows: rows, tokens: tokens, width: width, merged: r, protected: protected))
      }
    }
    let matching = TokenMerge.Matching(tokens: tokens, merged: r, items: items)
    let (merged, newSizes) = try TokenMerge.merge(x: x, sizes: .float(sizeValues, [batch, tokens]), matching: matching)
    let originValues: [Int64]
    let originalTokens: Int
    if let origin {
      guard origin.rank == 2, origin.shape[0] == batch, !origin.isFloat else {
        throw AttncError.invalid("token merge: origin must be an integer [\(batch), N₀] tensor, got \(origin.shape)")
      }
      originalTokens = origin.shape[1]
      var composed = [Int64](repeating: 0, count: batch * originalTokens)
      for b in 0..<batch {
        for n in 0..<originalTokens {
          let current = Int(origin.ints[b * originalTokens + n])
          guard current >= 0, current < tokens else {
            throw AttncError.invalid("token merge: origin holds \(current), outside 0..<\(tokens)")
          }
          composed[b * originalTokens + n] = Int64(items[b].destination[current])
        }
      }
      originValues = composed
    } else {
      originalTokens = tokens
      originValues = items.flatMap { $0.destination.map { Int64($0) } }
    }
    return [merged, newSizes, .int(originValues, [batch, originalTokens])]
  }

  /// Unmerge: `y [B, N', ...]` → `[B, N₀, ...]`, row `n` a copy of `y[origin[n]]`.
  /// - Throws: `origin` not `[B, N₀]` integers within `0..<N'`.
  public static func unmerge(y: Tensor, origin: Tensor) throws -> Tensor {
    guard y.rank >= 2, origin.rank == 2, origin.shape[0] == y.shape[0], !origin.isFloat else {
      throw AttncError.invalid("token unmerge: y \(y.shape) and origin \(origin.shape) do not fit ([B, N', …] and [B, N₀])")
    }
    let (batch, current, original) = (y.shape[0], y.shape[1], origin.shape[1])
    let width = y.shape.dropFirst(2).reduce(1, *)
    var shape = y.shape
    shape[1] = original
    func gather<T>(_ values: [T], zero: T) throws -> [T] {
      var out = [T](repeating: zero, count: batch * original * width)
      for b in 0..<batch {
        for n in 0..<original {
          let slot = Int(origin.ints[b * original + n])
          guard slot >= 0, slot < current else { throw AttncError.invalid("token unmerge: origin holds \(slot), outside 0..<\(current)") }
          let source = (b * current + slot) * width, target = (b * original + n) * width
          for i in 0..<width { out[target + i] = values[source + i] }
        }
      }
      return out
    }
    if y.isFloat { return .float(try gather(y.floats.owned, zero: 0), shape, dtype: y.dtype) }
    return .int(try gather(y.ints, zero: 0), shape, dtype: y.dtype)
  }
}
