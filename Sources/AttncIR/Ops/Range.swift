import AttncKernels
import AttncTensor
import Foundation

/// `Range(start, limit, delta)`: the vector `start, start + delta, …` before `limit`.
///
/// Its length is `max(0, ceil((limit - start) / delta))`, in the inputs' common dtype.
///
/// Integer bounds of known content keep the length symbolic: `Range(0, seq, 1)` has `seq`
/// elements, with delta k the length is `(limit - start + k - 1) / k`. Unknown bounds give a fresh
/// length. A result of constant length over known bounds has a known content (`[0, 1, …]`, or
/// `past + i` for `Range(past, past + 3, 1)`).
public struct Range: AttributelessOp, ContentPropagating {
  private let fresh = DataDependentDims("range")

  /// Range has no attributes.
  public init() {}

  /// The length, or nil when the bounds are not known statically.
  /// - Throws: "delta is 0".
  func length(_ start: ValueFact, _ limit: ValueFact, _ delta: ValueFact) throws -> Dim? {
    if start.dtype.isFloatingPoint {
      guard let s = start.constant?.scalarDouble, let l = limit.constant?.scalarDouble,
        let d = delta.constant?.scalarDouble
      else { return nil }
      guard d != 0 else { throw AttncError.invalid("delta is 0") }
      let count = ((l - s) / d).rounded(.up)
      guard count.isFinite, count < Double(Int32.max) else {
        throw AttncError.invalid("range from \(s) to \(l) by \(d) is too long")
      }
      return Dim(max(0, Int(count)))
    }
    guard let s = start.content?.first, let l = limit.content?.first,
      let d = delta.content?.first?.value
    else { return nil }
    guard d != 0 else { throw AttncError.invalid("delta is 0") }
    let span = d > 0 ? l - s : s - l
    let stride = abs(d)
    if let v = span.value { return Dim(max(0, (v + stride - 1) / stride)) }
    return stride == 1 ? span : (span + Dim(stride - 1)).floorDivided(by: stride)
  }

  /// A vector of the computed length, in the inputs' dtype.
  /// - Throws: "start, limit and delta must have one type, got int64, int32 and int64";
  ///   "start, limit and delta must be scalars, got rank 2"; "delta is 0".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let start = try inputs.required(0)
    let limit = try inputs.required(1)
    let delta = try inputs.required(2)
    let facts = [start, limit, delta]
    guard facts.allSatisfy({ $0.dtype == start.dtype }) else {
      let types = facts.map(\.dtype.description)
      throw AttncError.invalid(
        "start, limit and delta must have one type, got \(types[0]), \(types[1]) and \(types[2])")
    }
    if let bad = facts.first(where: { $0.type.elementCount != 1 }) {
      throw AttncError.invalid("start, limit and delta must be scalars, got rank \(bad.rank)")
    }
    return [TensorType(start.dtype, [try length(start, limit, delta) ?? fresh.dim(0)])]
  }

  /// `start + i * delta` for each `i` when the length is a constant and the bounds are known.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard inputs.count == 3, let s = inputs[0]?.content?.first, let d = inputs[2]?.content?.first,
      inputs[0]?.dtype.isInteger == true, let n = outputTypes.first?.dims.first?.value, n <= 64
    else { return [nil] }
    return [(0..<n).map { s + d * Dim($0) }]
  }
}

extension Range: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(RangeCall()) }
}
