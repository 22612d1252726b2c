import CAttnc
import Foundation

/// Standard normal draws from a seeded Mersenne Twister (Box–Muller), so a head's random
/// features and projections are the same on every run and machine.
struct GaussianStream {
  private var generator: MersenneTwister
  private var spare: Double?

  init(seed: UInt64) { generator = MersenneTwister(seed: seed ^ (seed >> 32)) }

  mutating func next() -> Double {
    if let value = spare {
      spare = nil
      return value
    }
    var u = generator.nextDouble()
    while u <= 0 { u = generator.nextDouble() }
    let radius = (-2 * Foundation.log(u)).squareRoot(), angle = 2 * Double.pi * generator.nextDouble()
    spare = radius * Foundation.sin(angle)
    return radius * Foundation.cos(angle)
  }
}

/// FAVOR+ positive random features (Performer, Lemma 1 and §2.4):
/// `φ(x) = m^{-1/2}·exp(Ωx − |x|²/2)` with `Ω [m, d]` orthogonal in blocks of `d` rows, each row
/// rescaled to the norm of an independent `N(0, I_d)` draw (chi with `d` degrees of freedom).
/// Computed in the log domain: queries lose their row maximum, keys one maximum per block.
struct PositiveRandomFeatures: FeatureMap {
  let count: Int
  let depth: Int
  /// `Ω`, row-major `[m, d]`.
  let projection: [Float]

  init(features m: Int, depth d: Int, seed: UInt64) {
    count = m
    depth = d
    projection = Self.drawn.value(for: DrawKey(seed: seed, rows: m, depth: d)) { Self.orthogonalRows(m, d, seed: seed) }
  }

  struct DrawKey: Hashable {
    var seed: UInt64
    var rows: Int
    var depth: Int
  }

  /// Draws already made in this process: a plan's heads redraw the same `Ω` on every run, and
  /// drawing (Gaussians, Gram–Schmidt) costs more than the attention at short sequences.
  static let drawn = DrawCache<DrawKey, [Float]>(capacity: 512)

  /// `m` rows: blocks of `d` orthonormal rows (Gram–Schmidt on Gaussian rows, in Double), each
  /// row scaled by a chi-distributed norm.
  static func orthogonalRows(_ m: Int, _ d: Int, seed: UInt64) -> [Float] {
    var gaussian = GaussianStream(seed: seed)
    var rows: [[Double]] = []
    while rows.count < m {
      var block: [[Double]] = []
      while block.count < d {
        var row = (0..<d).map { _ in gaussian.next() }
        for previous in block {
          var dot = 0.0
          for t in 0..<d { dot += row[t] * previous[t] }
          for t in 0..<d { row[t] -= dot * previous[t] }
        }
        let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 1e-8 else { continue }
        block.append(row.map { $0 / norm })
      }
      rows += block
    }
    var result = [Float](repeating: 0, count: m * d)
    for r in 0..<m {
      let chi = (0..<d).reduce(0.0) { sum, _ in let g = gaussian.next(); return sum + g * g }.squareRoot()
      for t in 0..<d { result[r * d + t] = Float(rows[r][t] * chi) }
    }
    return result
  }

  /// `u = Ωx − |x|²/2 − ½·ln m` for `rows` rows into `out [rows, m]`.
  func logFeatures(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
    projection.withUnsafeBufferPointer { w in
      gemm(m: rows, n: count, k: depth, x, w.baseAddress!, transposeB: true, into: out)
    }
    let half = 0.5 * Float(Foundation.log(Double(count)))
    for r in 0..<rows {
      let row = x + r * depth
      var norm: Float = 0
      for t in 0..<depth { norm += row[t] * row[t] }
      let shift = 0.5 * norm + half
      let target = out + r * count
      for c in 0..<count { target[c] -= shift }
    }
  }

  func queries(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, logScales: UnsafeMutablePointer<Float>) {
    logFeatures(x, rows: rows, into: out)
    for r in 0..<rows {
      let row = out + r * count
      let top = attnc_row_max(row, count)
      _ = attnc_exp_shift_sum(row, count, top)
      logScales[r] = top
    }
  }

  func keys(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) -> Float {
    logFeatures(x, rows: rows, into: out)
    let top = attnc_row_max(out, rows * count)
    _ = attnc_exp_shift_sum(out, rows * count, top)
    return top
  }
}

/// The deterministic map of linear transformers: `φ(x) = elu(x) + 1` per component (`m = d`).
struct EluFeatures: DeterministicFeatureMap {
  let count: Int

  func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
    for i in 0..<(rows * count) {
      let value = x[i]
      out[i] = value > 0 ? value + 1 : VectorMath.exp(value)
    }
  }
}

/// A small thread-safe memo table (cleared when full).
final class DrawCache<Key: Hashable, Value>: @unchecked Sendable {
  private var entries: [Key: Value] = [:]
  private let lock = NSLock()
  private let capacity: Int

  init(capacity: Int) { self.capacity = capacity }

  func value(for key: Key, _ make: () -> Value) -> Value {
    lock.lock()
    if let value = entries[key] {
      lock.unlock()
      return value
    }
    lock.unlock()
    let value = make()
    lock.lock()
    if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
    entries[key] = value
    lock.unlock()
    return value
  }
}
