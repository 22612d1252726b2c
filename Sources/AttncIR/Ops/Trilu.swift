import AttncTensor

/// `Trilu(x, k?)`: keeps the upper (`upper=1`, default) or lower triangle of the last two axes,
/// offset by diagonal `k`; zeroes the rest.
public struct Trilu: Op, Evaluable {
  public var upper: Bool

  public init(attributes: Attributes, opset: Int) throws {
    upper = try attributes.int("upper", default: 1) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    guard x.rank >= 2 else { throw AttncError.invalid("input must have rank ≥ 2, got \(x.rank)") }
    return [x.type]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let k = inputs.count > 1 ? Int(inputs[1]?.scalarInt ?? 0) : 0
    let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
    let zero = HostTensor(dtype: x.dtype, shape: [1], converting: [0])
    var picks: [(source: Int, element: Int)] = []
    for flat in 0..<x.count {
      let j = flat % cols, i = (flat / max(cols, 1)) % max(rows, 1)
      let keep = upper ? j - i >= k : j - i <= k
      picks.append(keep ? (0, flat) : (1, 0))
    }
    if x.dtype == .string { throw AttncError.unsupported("Trilu on strings") }
    return [ElementPicking.assemble([x, zero], shape: x.shape, picks: picks)]
  }
}
