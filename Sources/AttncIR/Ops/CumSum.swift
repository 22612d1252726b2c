import AttncKernels
import AttncTensor

/// `CumSum(x, axis)`: running sums along `axis`, `y[…, i, …] = Σ_{j ≤ i} x[…, j, …]`.
///
/// `exclusive = 1` leaves element `i` out of its own sum (`j < i`); `reverse = 1` sums from the
/// end (`j ≥ i`). `axis` is an int32/int64 scalar (or one-element vector) in `-rank..<rank`.
/// Integer evaluation is exact (wrapping).
public struct CumSum: AttributedOp {
  public var exclusive: Bool
  public var reverse: Bool

  /// A running sum with the given direction and inclusion.
  public init(exclusive: Bool = false, reverse: Bool = false) {
    self.exclusive = exclusive
    self.reverse = reverse
  }

  public init(attributes: Attributes, opset: Int) throws {
    exclusive = try attributes.int("exclusive", default: 0) != 0
    reverse = try attributes.int("reverse", default: 0) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    let axis = try inputs.required(1)
    try x.expectNumeric("x")
    guard axis.dtype == .int64 || axis.dtype == .int32, axis.dims.allSatisfy({ $0 == 1 }) else {
      throw AttncError.invalid("input 'axis' must be an int32 or int64 scalar, got \(axis.type)")
    }
    guard x.rank >= 1 else { throw AttncError.invalid("input 'x' must have rank ≥ 1, got 0") }
    if let a = axis.constantInts?.first { _ = try x.type.axis(a) }
    return [x.type]
  }

}

extension CumSum: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(CumSumCall(exclusive: exclusive, reverse: reverse))
  }
}
