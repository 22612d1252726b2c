import AttncKernels
import AttncTensor

/// `Expand(x, shape)`: broadcasts `x` against `shape` with numpy's rules (the result can be larger
/// than `shape` where `x` has more axes or larger dims), so `[1, 1, 1, seq]` against
/// `[batch, 1, seq, seq]` is `[batch, 1, seq, seq]`.
///
/// A `shape` whose elements are unknown gives `max(rank, length)` dims: `x`'s constant dims
/// above 1 where it has them (the shape entry must then be 1 or that dim), fresh dims elsewhere.
/// Expanding a vector of known content repeats it.
public struct Expand: AttributelessOp, ContentPropagating {
  private let fresh = DataDependentDims("expand")

  /// Expand has no attributes.
  public init() {}

  /// The broadcast of `x`'s dims with `shape`'s elements.
  /// - Throws: "cannot broadcast [2, 3] with [4]"; "shape entry -2 is negative"; "input 'shape'
  ///   must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (x, length, content) = try inputs.dataAndSizes("shape")
    if let content {
      if let bad = content.first(where: { ($0.value ?? 0) < 0 }) {
        throw AttncError.invalid("shape entry \(bad) is negative")
      }
      return [TensorType(x.dtype, try Shapes.broadcast([x.dims, content]))]
    }
    let rank = max(length, x.rank)
    let offset = rank - x.rank
    let dims = (0..<rank).map { i -> Dim in
      if i >= offset, let v = x.dims[i - offset].value, v > 1 { return Dim(v) }
      return fresh.dim(i)
    }
    return [TensorType(x.dtype, dims)]
  }

  /// A scalar or vector of known content expanded to a vector of known length repeats it.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.rank <= 1, let content = x.content,
      let type = outputTypes.first, type.rank <= 1
    else { return [nil] }
    let n = type.rank == 0 ? 1 : type.dims[0].value
    guard let n, content.count == n || content.count == 1 else { return [nil] }
    return [content.count == n ? content : [Dim](repeating: content[0], count: n)]
  }
}

extension Expand: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(ExpandCall()) }
}

extension Expand: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
