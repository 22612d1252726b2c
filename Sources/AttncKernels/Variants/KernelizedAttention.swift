/// A feature map `φ: R^d → R^m` for kernelized attention (`φ(q)·φ(k)` stands for the score
/// weight). Features may come with a log-scale removed for range: the map returns
/// `φ(x)·e^{−c}` and reports `c`.
protocol FeatureMap {
  /// `m`.
  var count: Int { get }
  /// Features of `rows` query rows `x [rows, d]` into `out [rows, m]`; `logScales[r]` is the
  /// constant removed from row `r` (a per-query constant cancels in the output).
  func queries(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, logScales: UnsafeMutablePointer<Float>)
  /// Features of `rows` key rows into `out`, all with one removed constant, returned.
  func keys(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) -> Float
}

/// A feature map with no random draws and no range to guard: `apply` computes the features,
/// and queries and keys lose no log-scale.
protocol DeterministicFeatureMap: FeatureMap {
  func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>)
}

extension DeterministicFeatureMap {
  func queries(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, logScales: UnsafeMutablePointer<Float>) {
    apply(x, rows: rows, into: out)
    for r in 0..<rows { logScales[r] = 0 }
  }

  func keys(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) -> Float {
    apply(x, rows: rows, into: out)
    return 0
  }
}

/// The skeleton every kernelized variant shares (attention-variants.md §1.1):
/// `o_i = φ(q_i)ᵀ S / φ(q_i)ᵀ z` with `S = Σ_j φ(k_j) v_jᵀ`, `z = Σ_j φ(k_j)`; causal attention
/// replaces the sums by prefix sums, streamed in blocks: the state holds the keys before a
/// query block, the block's own keys are weighed explicitly (a `rows × rows` tile with the
/// causal cut), then join the state. Never forms `N × N` nor `N × m × d`.
///
/// Key features arrive in blocks, each with its own removed log-scale; the state is kept at one
/// running scale `c` and rescaled by `e^{c_old − c_new}` when a block's scale is larger, so the
/// result equals the one-global-key-maximum stabilisation of FAVOR+ without a second pass.
enum KernelizedAttention {
  /// Unnormalised sums for every query: `numerator [S, dv]`, `denominator [S]`, and
  /// `logScales [S]` such that the true sums are these times `e^{logScales[i]}`.
  struct Sums {
    var numerator: [Float]
    var denominator: [Float]
    var logScales: [Float]
  }

  static let block = 64

  /// - Parameters:
  ///   - q: `[S, d]` queries as the map expects them (scaled).
  ///   - k, v: `[L, d]`, `[L, dv]`; `weights` per key or nil: key `j`'s feature row is multiplied
  ///     by `w_j` before it enters `S`, `z` and the causal tiles (0 = masked).
  ///   - causalOffset: query `i` sees keys `j ≤ i + offset`; nil = all.
  static func sums(
    map: FeatureMap, q: UnsafePointer<Float>, queries: Int, depth: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    keys: Int, valueDepth dv: Int, weights: UnsafePointer<Float>?, causalOffset: Int?
  ) -> Sums {
    let m = map.count, block = Self.block
    var result = Sums(
      numerator: [Float](repeating: 0, count: queries * dv), denominator: [Float](repeating: 0, count: queries),
      logScales: [Float](repeating: 0, count: queries))
    var state = [Float](repeating: 0, count: m * dv)  // S, m × dv
    var normaliser = [Float](repeating: 0, count: m)  // z
    var scale: Float = -.infinity  // the state's removed log-scale
    var keyFeatures = [Float](repeating: 0, count: block * m)
    var queryFeatures = [Float](repeating: 0, count: block * m)
    var tile = [Float](repeating: 0, count: block * block)

    // Features of key rows `start..<start+rows` into `keyFeatures`, at the state's running scale
    // (rescaling the state if this block raises it), masked keys zeroed.
    func keyBlock(_ start: Int, _ rows: Int) {
      keyFeatures.withUnsafeMutableBufferPointer { kf in
        let blockScale = map.keys(k + start * depth, rows: rows, into: kf.baseAddress!)
        let newScale = max(scale, blockScale)
        if newScale > scale, scale > -.infinity {
          let factor = VectorMath.exp(scale - newScale)
          for i in 0..<(m * dv) { state[i] *= factor }
          for i in 0..<m { normaliser[i] *= factor }
        }
        scale = newScale
        let blockFactor = newScale == blockScale ? 1 : VectorMath.exp(blockScale - newScale)
        for r in 0..<rows {
          let factor = blockFactor * (weights?[start + r] ?? 1)
          guard factor != 1 else { continue }
          let row = kf.baseAddress! + r * m
          for c in 0..<m { row[c] *= factor }
        }
      }
    }

    // Adds the features in `keyFeatures` (rows `start..<start+rows`) to the state.
    func join(_ start: Int, _ rows: Int) {
      keyFeatures.withUnsafeBufferPointer { kf in
        for r in 0..<rows {
          let row = kf.baseAddress! + r * m
          for c in 0..<m { normaliser[c] += row[c] }
        }
        state.withUnsafeMutableBufferPointer { s in
          gemm(m: m, n: dv, k: rows, kf.baseAddress!, transposeA: true, v + start * dv, beta: 1, into: s.baseAddress!)
        }
      }
    }

    func absorb(_ start: Int, _ rows: Int) {
      guard rows > 0 else { return }
      keyBlock(start, rows)
      join(start, rows)
    }

    // num, den of query rows `start..<start+rows` against the current state.
    func readState(_ start: Int, _ rows: Int) {
      queryFeatures.withUnsafeMutableBufferPointer { qf in
        result.logScales.withUnsafeMutableBufferPointer { ls in
          map.queries(q + start * depth, rows: rows, into: qf.baseAddress!, logScales: ls.baseAddress! + start)
          for r in 0..<rows { ls[start + r] += scale == -.infinity ? 0 : scale }
        }
        result.numerator.withUnsafeMutableBufferPointer { num in
          state.withUnsafeBufferPointer { s in
            gemm(m: rows, n: dv, k: m, qf.baseAddress!, s.baseAddress!, into: num.baseAddress! + start * dv)
          }
        }
        normaliser.withUnsafeBufferPointer { z in
          for r in 0..<rows { result.denominator[start + r] = VectorMath.dot(qf.baseAddress! + r * m, z.baseAddress!, count: m) }
        }
      }
    }

    guard let offset = causalOffset else {
      var start = 0
      while start < keys {
        absorb(start, min(block, keys - start))
        start += block
      }
      start = 0
      while start < queries {
        readState(start, min(block, queries - start))
        start += block
      }
      return result
    }

    var done = 0  // keys in the state
    var start = 0
    while start < queries {
      let rows = min(block, queries - start)
      let low = max(0, min(keys, start + offset + 1)), high = max(0, min(keys, start + rows - 1 + offset + 1))
      var position = done
      while position < low {
        absorb(position, min(block, low - position))
        position += block
      }
      done = max(done, low)
      // The block's own keys: features at the state's scale; they join the state after the
      // block's queries have read it.
      let own = high - done
      if own > 0 { keyBlock(done, own) }
      readState(start, rows)
      if own > 0 {
        // tile = φ(Q_block)·φ(K_own)ᵀ with the causal cut, added to the sums.
        queryFeatures.withUnsafeBufferPointer { qf in
          keyFeatures.withUnsafeMutableBufferPointer { kf in
            tile.withUnsafeMutableBufferPointer { t in
              gemm(m: rows, n: own, k: m, qf.baseAddress!, kf.baseAddress!, transposeB: true, into: t.baseAddress!)
              for r in 0..<rows {
                let visible = max(0, min(keys, start + r + offset + 1)) - done
                let row = t.baseAddress! + r * own
                for c in max(0, visible)..<own { row[c] = 0 }
                var sum: Float = 0
                for c in 0..<own { sum += row[c] }
                result.denominator[start + r] += sum
              }
              result.numerator.withUnsafeMutableBufferPointer { num in
                gemm(m: rows, n: dv, k: own, t.baseAddress!, v + done * dv, beta: 1, into: num.baseAddress! + start * dv)
              }
            }
          }
        }
        join(done, own)
        done = high
      }
      start += rows
    }
    return result
  }

  /// `y = numerator / denominator` for a variant that needs nothing else.
  static func run(_ head: AttentionHead, map: FeatureMap, q: [Float]) {
    q.withUnsafeBufferPointer { qp in
      let sums = Self.sums(
        map: map, q: qp.baseAddress!, queries: head.queries, depth: head.depth, k: head.k, v: head.v, keys: head.keys,
        valueDepth: head.valueDepth, weights: head.keyWeights, causalOffset: head.causalOffset)
      sums.numerator.withUnsafeBufferPointer { n in
        sums.denominator.withUnsafeBufferPointer { d in head.writeRatio(n.baseAddress!, d.baseAddress!, rows: 0..<head.queries) }
      }
    }
  }
}
