import AttncTensor

/// One (batch, query head) of an attention, as a variant kernel receives it: row-major
/// `q [S, d]`, `k [L, d]`, `v [L, dv]` (the key/value head this query head reads), output
/// `y [S, dv]`, zero on entry. Scores are `scale·q·k`.
public struct AttentionHead: @unchecked Sendable {
  public var q: UnsafePointer<Float>
  public var k: UnsafePointer<Float>
  public var v: UnsafePointer<Float>
  public var y: UnsafeMutablePointer<Float>
  public var queries: Int
  public var keys: Int
  public var depth: Int
  public var valueDepth: Int
  public var scale: Float
  /// Query `i` sees keys `j < i + causalOffset + 1` (bottom-right: `L − S`); nil = every key.
  public var causalOffset: Int?
  /// Per key, its weight `w_j ≥ 0`: key `j` counts `w_j` times (proportional attention,
  /// `key_weights`), 0 = masked; key padding arrives as 0/1. nil = every key weighs 1.
  public var keyWeights: UnsafePointer<Float>?
  /// This head's seed for random features and projections (`VariantParameters.seed(head:)`).
  public var seed: UInt64 = 0

  /// Keys `0..<visibleKeys(i)` are the ones query `i` may see (before padding).
  @inline(__always) func visibleKeys(_ i: Int) -> Int {
    guard let offset = causalOffset else { return keys }
    return max(0, min(keys, i + offset + 1))
  }

  @inline(__always) func weight(_ j: Int) -> Float { keyWeights?[j] ?? 1 }

  /// `scale·q` as a new `[S, d]` array (the variants fold the scale into the queries).
  func scaledQueries() -> [Float] {
    var result = [Float](repeating: 0, count: queries * depth)
    for i in 0..<(queries * depth) { result[i] = q[i] * scale }
    return result
  }

  /// `y_i = numerator_i / denominator_i`; rows with no weight (every key masked) give zeros.
  func writeRatio(_ numerator: UnsafePointer<Float>, _ denominator: UnsafePointer<Float>, rows: Range<Int>) {
    for i in rows {
      let d = denominator[i - rows.lowerBound]
      let inverse: Float = d != 0 && d.isFinite ? 1 / d : 0
      let source = numerator + (i - rows.lowerBound) * valueDepth, target = y + i * valueDepth
      for c in 0..<valueDepth { target[c] = source[c] * inverse }
    }
  }
}

/// Runs a non-softmax variant over a whole `[B, H, S, d]` attention: splits it into heads and
/// hands each to the variant's kernel, in parallel over (batch, head).
public enum VariantAttention {
  /// - Parameters: as `TiledAttention.run`; `mask` may only be `.none`, `.keyPadding` (the
  ///   padding fill is irrelevant: a masked key gets weight 0, the others weight 1) or
  ///   `.keyWeights` (passed to the kernel as given).
  /// - Throws: when the variant cannot honour the mask or causality, or the operands do not fit.
  public static func run(
    _ definition: AttentionVariantDefinition, parameters: VariantParameters, q: Tensor, k: Tensor, v: Tensor,
    mask: TiledAttention.Mask, scale: Float, causal: Bool
  ) throws -> Tensor {
    guard let kernel = definition.kernel else {
      var options = TiledAttention.Options(scale: scale, causal: causal)
      definition.configure(&options, parameters)
      return try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options)
    }
    let (batch, heads, kvHeads, queries, keys, depth, valueDepth) = try TiledAttention.operandShape(q: q, k: k, v: v)
    let maskName: String
    var weights: [Float]? = nil
    switch mask {
    case .none: maskName = "none"
    case .keyPadding(let padding, _):
      maskName = "key_padding"
      guard padding.shape == [batch, keys] else {
        throw AttncError.invalid("key-padding mask has shape \(padding.shape), expected [\(batch), \(keys)]")
      }
      weights = padding.isFloat ? padding.floats.map { $0 == 0 ? 0 : 1 } : padding.ints.map { $0 == 0 ? 0 : 1 }
    case .keyWeights(let given):
      maskName = "key_weights"
      try TiledAttention.checkKeyWeights(given, batch: batch, keys: keys)
      weights = given.floats.owned
    case .bias: maskName = "additive_bias"
    }
    if let refusal = definition.refusal(causal: causal, mask: maskName, softcap: 0, parameters: parameters) {
      throw AttncError.unsupported(refusal)
    }
    var output = [Float](repeating: 0, count: batch * heads * queries * valueDepth)
    let group = heads / kvHeads
    q.floats.withUnsafeBufferPointer { qp in
      k.floats.withUnsafeBufferPointer { kp in
        v.floats.withUnsafeBufferPointer { vp in
          output.withUnsafeMutableBufferPointer { yp in
            let (qBase, kBase, vBase, yBase) = (qp.baseAddress!, kp.baseAddress!, vp.baseAddress!, yp.baseAddress!)
            func runHeads(_ weightBase: UnsafePointer<Float>?) {
              Parallel.chunks(batch * heads) { range in
                for item in range {
                  let b = item / heads, h = item % heads, g = h / group
                  let head = AttentionHead(
                    q: qBase + (b * heads + h) * queries * depth, k: kBase + (b * kvHeads + g) * keys * depth,
                    v: vBase + (b * kvHeads + g) * keys * valueDepth, y: yBase + (b * heads + h) * queries * valueDepth,
                    queries: queries, keys: keys, depth: depth, valueDepth: valueDepth, scale: scale,
                    causalOffset: causal ? keys - queries : nil, keyWeights: weightBase.map { $0 + b * keys },
                    seed: parameters.seed(head: h))
                  kernel(head, parameters)
                }
              }
            }
            if let weights {
              weights.withUnsafeBufferPointer { runHeads($0.baseAddress!) }
            } else {
              runHeads(nil)
            }
          }
        }
      }
    }
    return .float(output, [batch, heads, queries, valueDepth])
  }
}
