import AttncKernels
import AttncTensor

/// `GatherND(data, indices)`: slices of `data` addressed by index tuples.
///
/// With `batch_dims` b, the last axis of `indices` (length q) holds
/// index tuples into axes `b..<b+q` of `data`; the leading b axes of both are shared batch axes.
/// Output dims: `indices[..<(rank - 1)] + data[(b + q)...]`.
public struct GatherND: Op, Evaluable {
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
    try inputs.expectCount(2...2)
    let data = try inputs.required(0)
    let indices = try inputs.required(1)
    guard indices.dtype == .int64 else {
      throw AttncError.invalid("indices must be int64, got \(indices.dtype)")
    }
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

  /// Copies one slice of `data` per index tuple; O(output elements).
  /// - Throws: "index 3 is out of range for axis 1 of size 2".
  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    let indices = try required(inputs, 1)
    guard let q = indices.shape.last else {
      throw AttncError.invalid("indices must have rank 1 or more, got rank 0")
    }
    let b = batchDims
    guard b >= 0, b + q <= data.rank, b < indices.rank else {
      throw AttncError.invalid(
        "indices address \(q) axes after \(b) batch dims of a rank-\(data.rank) tensor")
    }
    let batchShape = Array(data.shape[..<b])
    guard Array(indices.shape[..<b]) == batchShape else {
      throw AttncError.invalid(
        "batch dims \(Array(indices.shape[..<b])) of indices differ from \(batchShape)")
    }
    let strides = ElementPicking.strides(data.shape)
    let inner = data.shape[(b + q)...].reduce(1, *)
    // Index tuples per batch entry: the indices' dims between the batch axes and the last.
    let perBatch = indices.shape[b..<(indices.rank - 1)].reduce(1, *)
    let tuples = indices.shape.dropLast().reduce(1, *)
    let values = indices.int64s()
    var elements: [Int] = []
    elements.reserveCapacity(tuples * inner)
    for t in 0..<tuples {
      // The batch entry's offset: its multi-index over data's leading b axes.
      var flat = 0
      var rest = perBatch > 0 ? t / perBatch : 0
      for axis in stride(from: b - 1, through: 0, by: -1) {
        flat += (rest % data.shape[axis]) * strides[axis]
        rest /= data.shape[axis]
      }
      for k in 0..<q {
        let raw = values[t * q + k]
        let size = data.shape[b + k]
        let i = raw < 0 ? Int(raw) + size : Int(raw)
        guard i >= 0 && i < size else {
          throw AttncError.invalid("index \(raw) is out of range for axis \(b + k) of size \(size)")
        }
        flat += i * strides[b + k]
      }
      elements.append(contentsOf: flat..<(flat + inner))
    }
    let shape = Array(indices.shape.dropLast()) + Array(data.shape[(b + q)...])
    return [ElementPicking.pick(data, shape: shape, elements: elements)]
  }
}

extension GatherND: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(GatherNDCall(batchDims: batchDims)) }
}
