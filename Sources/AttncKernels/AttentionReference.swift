import AttncTensor
import Foundation

/// The ONNX `Attention` op (opset 23/24), computed row by row with an exact softmax.
///
/// Per batch b, query head h (kv head `h / (Hq / Hkv)`), query i and key j of the present
/// (past + new) keys: `s = softcap(scale · q·k)`, plus the bias from `attn_mask` (boolean: false →
/// −∞; additive otherwise; padded with −∞ to the total length), the causal mask aligned
/// bottom-right (`j ≤ i + offset`, offset = past length, or `nonpad_kv_seqlen[b] − S`), and the
/// `nonpad_kv_seqlen` padding, and `log w_j` of the optional key weights (attnc's proportional
/// attention, `key_weights`: key `j` counts `w_j` times, `w_j = 0` drops it). A fully masked row
/// yields zeros, not NaN. Q and K are each scaled by `√scale` before the product, as the ONNX
/// reference does; with float16 or bfloat16 inputs every step rounds to that type where the
/// reference's does (`NarrowFloatArithmetic`).
public enum AttentionReference {
  public struct Options: Sendable, Codable {
    public var qHeads: Int?
    public var kvHeads: Int?
    public var scale: Float?
    public var causal: Bool
    public var softcap: Float
    public var qkMode: Int
    /// Keys allowed left / right of a query's absolute position `i + offset`; -1 = unbounded.
    public var leftWindow: Int
    public var rightWindow: Int
    enum CodingKeys: String, CodingKey {
      case qHeads = "q_num_heads", kvHeads = "kv_num_heads", scale, causal = "is_causal", softcap
      case qkMode = "qk_matmul_output_mode", leftWindow = "left_window_size", rightWindow = "right_window_size"
    }

    public init(qHeads: Int?, kvHeads: Int?, scale: Float?, causal: Bool, softcap: Float, qkMode: Int, leftWindow: Int = -1, rightWindow: Int = -1) {
      self.leftWindow = leftWindow
      self.rightWindow = rightWindow
      self.qHeads = qHeads
      self.kvHeads = kvHeads
      self.scale = scale
      self.causal = causal
      self.softcap = softcap
      self.qkMode = qkMode
    }
  }

  /// `[B, S, H·d]` → `[B, H, S, d]`.
  static func splitHeads(_ x: Tensor, heads: Int) -> Tensor {
    let (b, s, hidden) = (x.shape[0], x.shape[1], x.shape[2])
    return Movement.transpose(x.reshaped([b, s, heads, hidden / heads]), perm: [0, 2, 1, 3])
  }

  /// Returns `[Y, present_key, present_value, qk_output]`.
  /// - Parameter keyWeights: `[B, T]` non-negative floats over the present keys, or nil.
  public static func run(
    q qIn: Tensor, k kIn: Tensor, v vIn: Tensor, mask: Tensor?, pastKey: Tensor?, pastValue: Tensor?,
    nonpad: Tensor?, keyWeights: Tensor? = nil, options: Options
  ) throws -> [Tensor] {
    let threeD = qIn.rank == 3
    var q = qIn, k = kIn, v = vIn
    if threeD {
      guard let qh = options.qHeads, let kh = options.kvHeads else {
        throw AttncError.invalid("3-D inputs need q_num_heads and kv_num_heads")
      }
      q = splitHeads(q, heads: qh)
      k = splitHeads(k, heads: kh)
      v = splitHeads(v, heads: kh)
    }
    if let pastKey { k = try Movement.concat([pastKey, k], axis: 2) }
    if let pastValue { v = try Movement.concat([pastValue, v], axis: 2) }
    let (batch, hq, queries, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (hkv, keys, dv) = (k.shape[1], k.shape[2], v.shape[3])
    guard hkv > 0, hq % hkv == 0 else { throw AttncError.invalid("q heads \(hq) are not a multiple of kv heads \(hkv)") }
    let group = hq / hkv
    let narrow = NarrowFloatArithmetic(q.dtype)
    /// Rounds to Q's type where the reference's narrow-float arithmetic does; identity else.
    func r(_ x: Float) -> Float { narrow?.rounded(x) ?? x }
    // Q and K are each scaled by √scale, rounded to their type, before the product.
    let rootScale = r((options.scale ?? 1 / Float(d).squareRoot()).squareRoot())
    let scaledQ = q.floats.map { r($0 * rootScale) }
    let scaledK = k.floats.map { r($0 * rootScale) }
    let past = pastKey?.shape[2] ?? 0
    if let keyWeights {
      guard keyWeights.isFloat, keyWeights.shape == [batch, keys], keyWeights.floats.allSatisfy({ !($0 < 0) }) else {
        throw AttncError.invalid("key weights must be non-negative floats [\(batch), \(keys)], got \(keyWeights.shape)")
      }
    }

    // The additive mask broadcast to [B, H, S, T].
    var maskValues: [Float]? = nil
    var maskIndex: [Int] = []
    if let mask {
      var values = mask.dtype == .bool ? mask.ints.map { $0 != 0 ? Float(0) : -.infinity } : mask.floats.owned
      var shape = mask.shape
      if let last = shape.last, last < keys {
        let rows = values.count / max(last, 1)
        var padded: [Float] = []
        for r in 0..<rows {
          padded += values[(r * last)..<((r + 1) * last)]
          padded += [Float](repeating: -.infinity, count: keys - last)
        }
        values = padded
        shape[shape.count - 1] = keys
      }
      let (_, idx) = try Elementwise.broadcastIndices([shape, [batch, hq, queries, keys]])
      maskValues = values
      maskIndex = idx[0]
    }
    var y = [Float](repeating: 0, count: batch * hq * queries * dv)
    var qk = [Float](repeating: 0, count: batch * hq * queries * keys)
    var scores = [Float](repeating: 0, count: keys)
    for b in 0..<batch {
      let offset: Int
      if pastKey == nil, let nonpad { offset = Int(nonpad.ints[b]) - queries } else { offset = past }
      let valid = nonpad.map { Int($0.ints[b]) } ?? keys
      for h in 0..<hq {
        let kvh = h / group
        for i in 0..<queries {
          let qBase = ((b * hq + h) * queries + i) * d
          let row = ((b * hq + h) * queries + i) * keys
          var maximum = -Float.infinity
          for j in 0..<keys {
            let kBase = ((b * hkv + kvh) * keys + j) * d
            var dot: Float = 0
            for t in 0..<d { dot += scaledQ[qBase + t] * scaledK[kBase + t] }
            var s = r(dot)
            if options.softcap > 0 { s = r(options.softcap * r(Foundation.tanh(r(s / options.softcap)))) }
            var bias: Float = 0
            if let maskValues { bias += maskValues[maskIndex[row + j]] }
            if let keyWeights {
              let w = keyWeights.floats[b * keys + j]
              bias += w == 0 ? -.infinity : r(Foundation.log(w))
            }
            if options.causal && j > i + offset { bias = -.infinity }
            if options.leftWindow >= 0 && j < i + offset - options.leftWindow { bias = -.infinity }
            if options.rightWindow >= 0 && j > i + offset + options.rightWindow { bias = -.infinity }
            if j >= valid { bias = -.infinity }
            if options.qkMode <= 1 { qk[row + j] = s }
            s = r(s + bias)
            if options.qkMode == 2 { qk[row + j] = s }
            scores[j] = s
            maximum = max(maximum, s)
          }
          let outBase = ((b * hq + h) * queries + i) * dv
          if maximum == -.infinity {
            if options.qkMode == 3 { for j in 0..<keys { qk[row + j] = 0 } }
            continue  // fully masked row: zeros
          }
          var total: Float = 0
          for j in 0..<keys {
            let e = r(Foundation.exp(r(scores[j] - maximum)))
            scores[j] = e
            total = narrow?.accumulated(total, e) ?? total + e
          }
          let sum = r(total)
          for j in 0..<keys {
            let p = r(scores[j] / sum)
            if options.qkMode == 3 { qk[row + j] = p }
            if p == 0 { continue }
            let vBase = ((b * hkv + kvh) * keys + j) * dv
            for t in 0..<dv { y[outBase + t] += p * v.floats[vBase + t] }
          }
        }
      }
    }
    var output = Tensor.float(y, [batch, hq, queries, dv], dtype: qIn.dtype)
    if threeD {
      output = Movement.transpose(output, perm: [0, 2, 1, 3]).reshaped([batch, queries, hq * dv])
    }
    return [output, k, v, .float(qk, [batch, hq, queries, keys], dtype: qIn.dtype)]
  }
}
