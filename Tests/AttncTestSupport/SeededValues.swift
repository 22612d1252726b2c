import AttncCost
import AttncKit

/// Knuth's MMIX linear congruential generator:
/// `state ← state · 6364136223846793005 + 1442695040888963407 (mod 2⁶⁴)`.
///
/// Reproducible inputs for tests, independent of the platform's random source. Only the high
/// bits are well mixed: take values from `next() >> 33` or higher bits.
public struct LinearCongruentialGenerator {
  /// The current state; the next value is computed from it.
  public var state: UInt64

  /// A generator whose first `next()` is computed from `state`.
  public init(state: UInt64) { self.state = state }

  /// Advances the state one step and returns it.
  public mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state
  }
}

/// Seeded test inputs: the same seed gives the same values on every machine and run.
public enum SeededValues {
  /// `count` floats evenly spread over `[-amplitude, amplitude)`.
  ///
  /// Each is `(2u − 1) · amplitude` for the 24-bit fraction `u` in the top bits of one
  /// `LinearCongruentialGenerator` step; the generator starts at `seed` and its first step is
  /// discarded, so that nearby seeds give unrelated sequences. With an amplitude that is a power
  /// of two every value is exact in Float.
  public static func floats(_ count: Int, seed: UInt64, amplitude: Double = 1) -> [Float] {
    var generator = LinearCongruentialGenerator(state: seed)
    _ = generator.next()
    return (0..<count).map { _ in
      Float((Double(generator.next() >> 40) / Double(1 << 24) * 2 - 1) * amplitude)
    }
  }

  /// `count` bytes from SplitMix64 (`AttncCost.SplitMix`) started at `seed`: every byte value is
  /// equally likely and the result does not compress.
  public static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
  }
}
