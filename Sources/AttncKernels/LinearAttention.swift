import AttncTensor
import Foundation

/// ONNX `LinearAttention` (opset 27): attention through a recurrent state `S [dk, dv]` per batch
/// and key/value head, updated token by token in Float32.
///
/// For token t, with `kₜ, qₜ [dk]`, `vₜ [dv]`, decay `gₜ` (per key feature or per head) and
/// update rate `βₜ`:
///
///     S ← exp(gₜ) ⊙ S                  (rows d of S scaled by exp(gₜ[d]); when `decays`)
///     uₜ = βₜ · (vₜ − Sᵀkₜ)            (when `correctsDelta`; otherwise uₜ = vₜ)
///     S ← S + kₜ ⊗ uₜ
///     oₜ = scale · qₜᵀ S               (for every query head sharing this key/value head)
///
/// `update_rule` is the pair (`decays`, `correctsDelta`): linear (no, no), gated (yes, no),
/// delta (no, yes), gated_delta (yes, yes). Query head `i` reads key/value head `i / (Hq / Hkv)`.
public enum LinearAttentionKernel {
  public struct Options: Sendable, Codable {
    public var qHeads: Int
    public var kvHeads: Int
    /// Output scale; 0 = `1/√dk`.
    public var scale: Float
    /// Multiply the state by `exp(decay)` before each token's write (`gated`, `gated_delta`).
    public var decays: Bool
    /// Write `β · (v − Sᵀk)` instead of `v` (`delta`, `gated_delta`).
    public var correctsDelta: Bool
    enum CodingKeys: String, CodingKey {
      case qHeads = "q_num_heads", kvHeads = "kv_num_heads", scale, decays, correctsDelta = "corrects_delta"
    }

    public init(qHeads: Int, kvHeads: Int, scale: Float, decays: Bool, correctsDelta: Bool) {
      self.qHeads = qHeads
      self.kvHeads = kvHeads
      self.scale = scale
      self.decays = decays
      self.correctsDelta = correctsDelta
    }
  }

  /// The sizes one run works with, read from the inputs' shapes.
  struct Sizes {
    var batch, length, qHeads, kvHeads, keyDim, valueDim: Int
    /// Widths of the decay and beta rows per token (`Hkv·dk` or `Hkv`; `Hkv` or 1).
    var decayWidth = 0, betaWidth = 0
    var group: Int { qHeads / kvHeads }
  }

  /// Runs the recurrence over every token.
  /// - Parameters:
  ///   - query: `[B, T, Hq·dk]`; key `[B, T, Hkv·dk]`; value `[B, T, Hkv·dv]`.
  ///   - pastState: `[B, Hkv, dk, dv]`, zeros when nil.
  ///   - decay: `[B, T, Hkv·dk]` or `[B, T, Hkv]`, required when `options.decays`.
  ///   - beta: `[B, T, Hkv]` or `[B, T, 1]`, required when `options.correctsDelta`.
  /// - Returns: `[output [B, T, Hq·dv] (query's type), present_state [B, Hkv, dk, dv]]` (past
  ///   state's type, else query's).
  /// - Throws: shape mismatches, a missing decay or beta.
  /// - Complexity: O(B · T · (Hkv + Hq) · dk · dv).
  public static func run(
    query: Tensor, key: Tensor, value: Tensor, pastState: Tensor?, decay: Tensor?, beta: Tensor?,
    options: Options
  ) throws -> [Tensor] {
    let sizes = try checkedSizes(query, key, value, pastState, decay, beta, options)
    let stateCount = sizes.batch * sizes.kvHeads * sizes.keyDim * sizes.valueDim
    var state = pastState?.floats.owned ?? [Float](repeating: 0, count: stateCount)
    var output = [Float](
      repeating: 0, count: sizes.batch * sizes.length * sizes.qHeads * sizes.valueDim)
    let scale = options.scale != 0 ? options.scale : 1 / Float(sizes.keyDim).squareRoot()
    // checkedSizes made sure each gate a rule uses is present; a gate it does not use is ignored.
    let decay = options.decays ? decay : nil
    let beta = options.correctsDelta ? beta : nil
    let headState = sizes.keyDim * sizes.valueDim
    state.withUnsafeMutableBufferPointer { all in
      for b in 0..<sizes.batch {
        for h in 0..<sizes.kvHeads {
          let start = (b * sizes.kvHeads + h) * headState
          let s = UnsafeMutableBufferPointer(rebasing: all[start..<(start + headState)])
          for t in 0..<sizes.length {
            if let decay { applyDecay(s, decay, (b, h, t), sizes) }
            write(s, key, value, beta, (b, h, t), sizes)
            read(s, query, scale: scale, into: &output, (b, h, t), sizes)
          }
        }
      }
    }
    return [
      .float(
        output, [sizes.batch, sizes.length, sizes.qHeads * sizes.valueDim], dtype: query.dtype),
      .float(
        state, [sizes.batch, sizes.kvHeads, sizes.keyDim, sizes.valueDim],
        dtype: pastState?.dtype ?? query.dtype),
    ]
  }

  /// Validates the inputs' shapes against the head counts.
  /// - Throws: "key [2, 4, 30] does not split into 4 heads of the query's head size 8" and the
  ///   like.
  static func checkedSizes(
    _ query: Tensor, _ key: Tensor, _ value: Tensor, _ pastState: Tensor?, _ decay: Tensor?,
    _ beta: Tensor?, _ options: Options
  ) throws -> Sizes {
    let (qh, kvh) = (options.qHeads, options.kvHeads)
    guard query.rank == 3, key.rank == 3, value.rank == 3, qh > 0, kvh > 0, qh % kvh == 0,
      query.shape[2] % qh == 0, value.shape[2] % kvh == 0
    else {
      throw AttncError.invalid(
        "LinearAttention takes query, key, value [B, T, H·d] with \(qh) query heads, a multiple of \(kvh) key/value heads; got \(query.shape), \(key.shape), \(value.shape)"
      )
    }
    var sizes = Sizes(
      batch: query.shape[0], length: query.shape[1], qHeads: qh, kvHeads: kvh,
      keyDim: query.shape[2] / qh, valueDim: value.shape[2] / kvh)
    let (b, t) = (sizes.batch, sizes.length)
    guard key.shape == [b, t, kvh * sizes.keyDim], value.shape[..<2] == [b, t] else {
      throw AttncError.invalid(
        "key \(key.shape) and value \(value.shape) do not match query \(query.shape) with \(kvh) key/value heads of size \(sizes.keyDim)"
      )
    }
    if let pastState, pastState.shape != [b, kvh, sizes.keyDim, sizes.valueDim] {
      throw AttncError.invalid(
        "past_state \(pastState.shape) is not [\(b), \(kvh), \(sizes.keyDim), \(sizes.valueDim)]")
    }
    if options.decays {
      sizes.decayWidth = try gateWidth(decay, "decay", [b, t], allowed: [kvh * sizes.keyDim, kvh])
    }
    if options.correctsDelta {
      sizes.betaWidth = try gateWidth(beta, "beta", [b, t], allowed: [kvh, 1])
    }
    return sizes
  }

  /// The last dim of `gate [B, T, w]`, checked to be one of `allowed`.
  /// - Throws: "input 'beta' is required by this update rule", "input 'decay' [2, 4, 5] must be
  ///   [B, T, w] with w one of [32, 4]".
  static func gateWidth(_ gate: Tensor?, _ name: String, _ leading: [Int], allowed: [Int]) throws
    -> Int
  {
    guard let gate else {
      throw AttncError.invalid("input '\(name)' is required by this update rule")
    }
    guard gate.rank == 3, Array(gate.shape[..<2]) == leading, allowed.contains(gate.shape[2]) else {
      throw AttncError.invalid(
        "input '\(name)' \(gate.shape) must be [B, T, w] with w one of \(allowed)")
    }
    return gate.shape[2]
  }

  /// `S ← exp(g) ⊙ S`: row d of the state scaled by `exp(g[d])`, or all by one per-head `exp(g)`.
  static func applyDecay(
    _ s: UnsafeMutableBufferPointer<Float>, _ decay: Tensor, _ token: (b: Int, h: Int, t: Int),
    _ sizes: Sizes
  ) {
    let row = (token.b * sizes.length + token.t) * sizes.decayWidth
    let perFeature = sizes.decayWidth == sizes.kvHeads * sizes.keyDim
    for d in 0..<sizes.keyDim {
      let g = decay.floats[row + (perFeature ? token.h * sizes.keyDim + d : token.h)]
      let factor = Foundation.exp(g)
      for m in 0..<sizes.valueDim { s[d * sizes.valueDim + m] *= factor }
    }
  }

  /// `S ← S + k ⊗ u` with `u = v`, or `u = β·(v − Sᵀk)` when `beta` is given.
  static func write(
    _ s: UnsafeMutableBufferPointer<Float>, _ key: Tensor, _ value: Tensor, _ beta: Tensor?,
    _ token: (b: Int, h: Int, t: Int), _ sizes: Sizes
  ) {
    let (dk, dv) = (sizes.keyDim, sizes.valueDim)
    let tokenIndex = token.b * sizes.length + token.t
    let kBase = (tokenIndex * sizes.kvHeads + token.h) * dk
    let vBase = (tokenIndex * sizes.kvHeads + token.h) * dv
    var u = Array(value.floats[vBase..<(vBase + dv)])
    if let beta {
      let rate = beta.floats[tokenIndex * sizes.betaWidth + (sizes.betaWidth == 1 ? 0 : token.h)]
      for m in 0..<dv {
        var retrieved: Float = 0
        for d in 0..<dk { retrieved += s[d * dv + m] * key.floats[kBase + d] }
        u[m] = rate * (u[m] - retrieved)
      }
    }
    for d in 0..<dk {
      let k = key.floats[kBase + d]
      for m in 0..<dv { s[d * dv + m] += k * u[m] }
    }
  }

  /// `o = scale · qᵀS` for each query head reading key/value head `token.h`.
  static func read(
    _ s: UnsafeMutableBufferPointer<Float>, _ query: Tensor, scale: Float,
    into output: inout [Float],
    _ token: (b: Int, h: Int, t: Int), _ sizes: Sizes
  ) {
    let (dk, dv) = (sizes.keyDim, sizes.valueDim)
    let tokenIndex = token.b * sizes.length + token.t
    for qHead in (token.h * sizes.group)..<((token.h + 1) * sizes.group) {
      let qBase = (tokenIndex * sizes.qHeads + qHead) * dk
      let oBase = (tokenIndex * sizes.qHeads + qHead) * dv
      for m in 0..<dv {
        var dot: Float = 0
        for d in 0..<dk { dot += query.floats[qBase + d] * s[d * dv + m] }
        output[oBase + m] = scale * dot
      }
    }
  }
}
