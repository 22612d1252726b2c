/// The MT19937 Mersenne Twister (Matsumoto and Nishimura, 1998): 32-bit outputs with period
/// 2^19937 − 1, seeded from one 32-bit integer.
///
/// Seeded with `s` it yields the same stream as NumPy's legacy `np.random.seed(s)`, and
/// `nextDouble()` the same doubles as its `random_sample`/`uniform(0, 1)`, which is how ONNX's
/// reference draws its random ops.
public struct MersenneTwister: Sendable {
  private var state = [UInt32](repeating: 0, count: 624)
  private var index = 624

  /// A generator seeded with the low 32 bits of `seed` (the reference `init_genrand`).
  public init(seed: UInt64) {
    state[0] = UInt32(truncatingIfNeeded: seed)
    for i in 1..<624 {
      let previous = state[i - 1]
      state[i] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(i)
    }
  }

  /// The next 32 uniformly distributed bits.
  public mutating func next() -> UInt32 {
    if index >= 624 { twist() }
    var y = state[index]
    index += 1
    // Tempering.
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C_5680
    y ^= (y << 15) & 0xEFC6_0000
    y ^= y >> 18
    return y
  }

  /// A double uniform in [0, 1) with 53 random bits: the top 27 bits of one output and the top
  /// 26 of the next, as `(a·2^26 + b) / 2^53`.
  public mutating func nextDouble() -> Double {
    let a = Double(next() >> 5), b = Double(next() >> 6)
    return (a * 67_108_864 + b) / 9_007_199_254_740_992
  }

  /// Regenerates the 624 words of state.
  private mutating func twist() {
    for i in 0..<624 {
      let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
      var value = state[(i + 397) % 624] ^ (y >> 1)
      if y & 1 != 0 { value ^= 0x9908_B0DF }
      state[i] = value
    }
    index = 0
  }
}
