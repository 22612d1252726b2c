import AttncKernels
import AttncTensor

/// `GatherND(data, indices)`: slices of `data` addressed by index tuples.
///
/// With `batch_dims` b, the last axis of `indices` (length q) holds
/// index tuples into axes `b..<b+q` of `data`; the leading b axes of both are shared batch axes.
/// Output dims: `indices[..<(rank - 1)] + data[(b + q)...]`.
public struct GatherND: AttributedOp {
  /// The `batch_dims` attribute (opset 12; default 0).
  public var batchDims: Int

  /// Reads `batch_dims`.
  public init(attributes: Attributes, opset: Int) throws {
    batchDims = try attributes.int("batch_dims", default: 0)
  }

  /// `indices[..<(rank - 1)] + data[(b + q)...]`.
  /// - Throws: "the last dim of indices must be a known constant, got seq"; "indices address 3
  ///   axes after 0 batch dims of a rank-2 tensor"; "batch dims on axis 0 differ: 2 and 3";
  ///   "indices must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (data, indices) = try inputs.gatherOperands(indexTypes: [.int64])
    guard let last = indices.dims.last else {
      throw AttncError.invalid("indices must have rank 1 or more, got rank 0")
    }
    guard let q = last.value else {
      throw AttncError.invalid("the last dim of indices must be a known constant, got \(last)")
    }
    let b = batchDims
    guard b >= 0, b < min(data.rank, indices.rank) else {
      throw AttncError.invalid(
        "batch_dims \(b) must be less than the ranks of data (\(data.rank)) and indices "
          + "(\(indices.rank))")
    }
    guard b + q <= data.rank else {
      throw AttncError.invalid(
        "indices address \(q) axes after \(b) batch dims of a rank-\(data.rank) tensor")
    }
    var dims = Array(indices.dims.dropLast())
    for axis in 0..<b {
      dims[axis] = try DimCheck.unify(dims[axis], data.dims[axis], "batch dims on axis \(axis)")
    }
    return [TensorType(data.dtype, dims + Array(data.dims[(b + q)...]))]
  }

}

extension GatherND: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(GatherNDCall(batchDims: batchDims)) }
}
