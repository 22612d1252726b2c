import AttncTensor
import Foundation

/// `Range(start, limit, delta)`: `start, start+delta, …` before `limit`; length
/// `max(0, ceil((limit - start) / delta))`, kept symbolic (`limit - start`) when `delta` is 1.
public struct Range: Op, Evaluable, ContentPropagating {
  private let fresh = DataDependentDims("range")

  public init(attributes: Attributes, opset: Int) throws {}

  func length(_ inputs: [ValueFact?]) throws -> Dim? {
    let start = try inputs.required(0)
    let limit = try inputs.required(1)
    let delta = try inputs.required(2)
    if start.dtype.isFloatingPoint, let s = start.constant?.scalarDouble,
      let l = limit.constant?.scalarDouble, let d = delta.constant?.scalarDouble
    {
      guard d != 0 else { throw AttncError.invalid("delta is 0") }
      return Dim(max(0, Int(ceil((l - s) / d))))
    }
    guard let s = start.content?.first, let l = limit.content?.first,
      let d = delta.content?.first?.value
    else { return nil }
    guard d != 0 else { throw AttncError.invalid("delta is 0") }
    let span = l - s
    if let v = span.value { return Dim(max(0, d > 0 ? (v + d - 1) / d : (-v + (-d) - 1) / (-d))) }
    guard d > 0 else { return nil }
    return d == 1 ? span : (span + Dim(d - 1)).floorDivided(by: d)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let start = try inputs.required(0)
    for k in 0..<3 where try inputs.required(k).dtype != start.dtype {
      throw AttncError.invalid("start, limit and delta must have one type")
    }
    return [TensorType(start.dtype, [try length(inputs) ?? fresh.dim(0)])]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let start = try required(inputs, 0)
    if start.dtype.isInteger {
      let s = start.int64s()[0], l = try required(inputs, 1).int64s()[0], d = try required(inputs, 2).int64s()[0]
      guard d != 0 else { throw AttncError.invalid("delta is 0") }
      let n = max(0, Int((Double(l - s) / Double(d)).rounded(.up)))
      return [HostTensor(dtype: start.dtype, shape: [n], integers: (0..<n).map { s + Int64($0) * d })]
    }
    let s = start.doubles()[0], l = try required(inputs, 1).doubles()[0], d = try required(inputs, 2).doubles()[0]
    guard d != 0 else { throw AttncError.invalid("delta is 0") }
    let n = max(0, Int(ceil((l - s) / d)))
    return [HostTensor(dtype: start.dtype, shape: [n], converting: (0..<n).map { s + Double($0) * d })]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard inputs.count == 3, let s = inputs[0]?.content?.first, let d = inputs[2]?.content?.first,
      let n = outputTypes.first?.dims.first?.value, n <= 64
    else { return [nil] }
    return [(0..<n).map { s + d * Dim($0) }]
  }
}
