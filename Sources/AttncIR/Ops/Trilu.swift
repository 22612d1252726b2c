import AttncKernels
import AttncTensor

/// `Trilu(x, k?)`: keeps one triangle of the matrices in the last two axes and zeroes the rest.
///
/// With `upper = 1` (default) element `[…, i, j]` is kept when `j - i ≥ k`, with `upper = 0` when
/// `j - i ≤ k`; `k` is an optional int64 scalar (default 0, the main diagonal).
public struct Trilu: AttributedOp {
  public var upper: Bool

  /// Keeps the upper (default) or lower triangle.
  public init(upper: Bool = true) { self.upper = upper }

  public init(attributes: Attributes, opset: Int) throws {
    upper = try attributes.int("upper", default: 1) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    guard x.rank >= 2 else {
      throw AttncError.invalid("input must have rank ≥ 2, got rank \(x.rank)")
    }
    if let k = inputs.optional(1) {
      guard k.dtype == .int64, k.dims.allSatisfy({ $0 == 1 }) else {
        throw AttncError.invalid("input 'k' must be an int64 scalar, got \(k.type)")
      }
    }
    return [x.type]
  }

  /// Whether element `[i, j]` of a matrix is kept for diagonal offset `k`.
  public func keeps(row i: Int, column j: Int, k: Int) -> Bool { upper ? j - i >= k : j - i <= k }

}

extension Trilu: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(TriluCall(upper: upper)) }
}
