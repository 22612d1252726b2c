import Foundation

/// A small deterministic random generator (SplitMix64) for synthetic inputs.
public struct SplitMix: Sendable {
  var state: UInt64
  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A standard normal sample (Box–Muller).
  public mutating func normal() -> Float {
    let u = (Double(next() >> 11) + 0.5) / Double(1 << 53)
    let v = Double(next() >> 11) / Double(1 << 53)
    return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v))
  }
}
