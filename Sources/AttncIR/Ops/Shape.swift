import AttncKernels
import AttncTensor

/// `Shape(x)`: the dims of `x` as an int64 vector, optionally sliced by `start`/`end` (opset 15).
/// Its content is the (possibly symbolic) dims themselves.
public struct Shape: AttributedOp, ContentPropagating {
  public var start: Int
  public var end: Int?

  public init(attributes: Attributes, opset: Int) throws {
    start = try attributes.int("start", default: 0)
    end = try attributes.int("end")
  }

  func range(rank: Int) -> Swift.Range<Int> {
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
    let lower = clamp(start)
    let upper = clamp(end ?? rank)
    return lower..<max(lower, upper)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    return [TensorType(.int64, [Dim(range(rank: x.rank).count)])]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil else { return [nil] }
    return [Array(x.dims[range(rank: x.rank)])]
  }
}

extension Shape: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(ShapeCall(start: start, end: end)) }
}
