import AttncKernels
import AttncTensor

/// `Tile(x, repeats)`: `x` repeated `repeats[i]` times along each axis `i`.
///
/// Output dim `i` is `dims[i] * repeats[i]` (symbolic products stay exact). Unknown `repeats` give
/// fresh dims; tiling a vector of known content repeats the content.
public struct Tile: AttributelessOp, ContentPropagating {
  private let fresh = DataDependentDims("tile")

  /// Tile has no attributes (the opset-6 form; opset 1's `tiles` and `axis` inputs are not
  /// registered).
  public init() {}

  /// `dims[i] * repeats[i]`.
  /// - Throws: "repeats has 1 entries for rank 2"; "repeats [2, -1] has a negative entry";
  ///   "input 'repeats' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (x, length, content) = try inputs.dataAndSizes("repeats")
    guard length == x.rank else {
      throw AttncError.invalid("repeats has \(length) entries for rank \(x.rank)")
    }
    guard let content else {
      return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })]
    }
    if content.contains(where: { ($0.value ?? 0) < 0 }) {
      throw AttncError.invalid("repeats \(content.shapeDescription) has a negative entry")
    }
    return [TensorType(x.dtype, zip(x.dims, content).map { $0 * $1 })]
  }

  /// A vector of known content tiled a constant number of times.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.rank == 1, let content = x.content,
      let times = inputs.optional(1)?.constantInts, times.count == 1, times[0] >= 0,
      content.count * times[0] <= 64
    else { return [nil] }
    return [Array([[Dim]](repeating: content, count: times[0]).joined())]
  }
}

extension Tile: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(TileCall()) }
}
