import AttncTensor

/// `CumSum(x, axis)`: running sums along `axis`; `exclusive` starts from 0, `reverse` runs from
/// the end.
public struct CumSum: Op, Evaluable {
  public var exclusive: Bool
  public var reverse: Bool

  public init(attributes: Attributes, opset: Int) throws {
    exclusive = try attributes.int("exclusive", default: 0) != 0
    reverse = try attributes.int("reverse", default: 0) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    let axis = try inputs.required(1)
    guard axis.rank <= 1 else { throw AttncError.invalid("axis must be a scalar") }
    if let a = axis.constantInts?.first { _ = try x.type.axis(a) }
    return [x.type]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    guard let raw = try required(inputs, 1).scalarInt else { throw AttncError.invalid("axis must be a scalar") }
    let a = try Shapes.normalize(axis: Int(raw), rank: x.rank)
    let n = x.shape[a]
    let inner = x.shape[(a + 1)...].reduce(1, *)
    let outer = x.shape[..<a].reduce(1, *)
    let integer = x.dtype.isInteger
    let ints = integer ? x.int64s() : []
    let reals = integer ? [] : x.doubles()
    var outInts = ints
    var outReals = reals
    for o in 0..<outer {
      for e in 0..<inner {
        var si: Int64 = 0
        var sr = 0.0
        for step in 0..<n {
          let i = reverse ? n - 1 - step : step
          let flat = (o * n + i) * inner + e
          if integer {
            if exclusive { outInts[flat] = si; si &+= ints[flat] } else { si &+= ints[flat]; outInts[flat] = si }
          } else {
            if exclusive { outReals[flat] = sr; sr += reals[flat] } else { sr += reals[flat]; outReals[flat] = sr }
          }
        }
      }
    }
    return [integer
      ? HostTensor(dtype: x.dtype, shape: x.shape, integers: outInts)
      : HostTensor(dtype: x.dtype, shape: x.shape, converting: outReals)]
  }
}
