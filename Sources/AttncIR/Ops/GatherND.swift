import AttncTensor

/// `GatherND(data, indices)` with `batch_dims` b: the last axis of `indices` (length q) indexes
/// the first q non-batch axes of `data`; output dims
/// `indices[..<last] + data[b + q...]`.
public struct GatherND: Op, Evaluable {
  public var batchDims: Int

  public init(attributes: Attributes, opset: Int) throws {
    batchDims = try attributes.int("batch_dims", default: 0)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let data = try inputs.required(0)
    let indices = try inputs.required(1)
    guard indices.rank >= 1, let q = indices.dims.last?.value else {
      throw AttncError.invalid("the last dim of indices must be a known constant")
    }
    guard batchDims + q <= data.rank else {
      throw AttncError.invalid("indices address \(q) axes after \(batchDims) batch dims of a rank-\(data.rank) tensor")
    }
    return [TensorType(data.dtype, Array(indices.dims.dropLast()) + Array(data.dims[(batchDims + q)...]))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    let indices = try required(inputs, 1)
    guard let q = indices.shape.last else { throw AttncError.invalid("indices must have rank ≥ 1") }
    let b = batchDims
    let strides = ElementPicking.strides(data.shape)
    let inner = data.shape[(b + q)...].reduce(1, *)
    let batch = data.shape[..<b].reduce(1, *)
    let tuples = indices.count / max(q, 1)
    let perBatch = tuples / max(batch, 1)
    let values = indices.int64s()
    var elements: [Int] = []
    for t in 0..<tuples {
      let batchIndex = perBatch > 0 ? t / perBatch : 0
      var flat = 0
      var rest = batchIndex
      for axis in stride(from: b - 1, through: 0, by: -1) {
        flat += (rest % data.shape[axis]) * strides[axis]
        rest /= data.shape[axis]
      }
      for k in 0..<q {
        var i = Int(values[t * q + k])
        let d = data.shape[b + k]
        if i < 0 { i += d }
        guard i >= 0 && i < d else { throw AttncError.invalid("index \(values[t * q + k]) is out of range for axis \(b + k) of size \(d)") }
        flat += i * strides[b + k]
      }
      for e in 0..<inner { elements.append(flat + e) }
    }
    let shape = Array(indices.shape.dropLast()) + Array(data.shape[(b + q)...])
    return [ElementPicking.pick(data, shape: shape, elements: elements)]
  }
}
