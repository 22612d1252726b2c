import AttncKernels
import AttncTensor

/// `GatherElements(data, indices)` on `axis`: the output has the dims of `indices` and
/// `out[i][j][k] = data[indices[i][j][k]][j][k]` for axis 0 (likewise on other axes); negative
/// indices count from the end.
public struct GatherElements: AttributedOp {
  /// The `axis` attribute (default 0).
  public var axis: Int

  /// Reads `axis`.
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
  }

  /// The dims of `indices`.
  /// - Throws: "indices have rank 1 but data has rank 2"; "indices must be int32 or int64, got
  ///   float32"; "axis 2 is out of range for rank 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (data, indices) = try inputs.gatherOperands()
    guard indices.rank == data.rank else {
      throw AttncError.invalid("indices have rank \(indices.rank) but data has rank \(data.rank)")
    }
    _ = try data.type.axis(axis)
    return [TensorType(data.dtype, indices.dims)]
  }

}

extension GatherElements: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(GatherCall(axis: axis, elements: true)) }
}
