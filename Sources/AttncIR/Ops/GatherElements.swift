import AttncTensor

/// `GatherElements(data, indices)` on `axis`: `out[i][j][k] = data[index on axis][j][k]`, with the
/// output shaped like `indices`.
public struct GatherElements: Op, Evaluable {
  public var axis: Int

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let data = try inputs.required(0)
    let indices = try inputs.required(1)
    guard indices.rank == data.rank else {
      throw AttncError.invalid("indices have rank \(indices.rank) but data has rank \(data.rank)")
    }
    _ = try data.type.axis(axis)
    return [TensorType(data.dtype, indices.dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    let indices = try required(inputs, 1)
    let a = try Shapes.normalize(axis: axis, rank: data.rank)
    let strides = ElementPicking.strides(data.shape)
    let values = indices.int64s()
    var elements: [Int] = []
    var k = 0
    var failure: AttncError?
    ElementPicking.forEachIndex(indices.shape) { index in
      var raw = Int(values[k])
      k += 1
      if raw < 0 { raw += data.shape[a] }
      if raw < 0 || raw >= data.shape[a] { failure = AttncError.invalid("index \(values[k - 1]) is out of range"); return }
      var flat = 0
      for axis in index.indices { flat += (axis == a ? raw : index[axis]) * strides[axis] }
      elements.append(flat)
    }
    if let failure { throw failure }
    return [ElementPicking.pick(data, shape: indices.shape, elements: elements)]
  }
}
