import AttncTensor

/// `Tile(x, repeats)`: output dim `i` is `x.dims[i] * repeats[i]`.
public struct Tile: Op, Evaluable {
  private let fresh = DataDependentDims("tile")

  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    let repeats = try inputs.required(1)
    guard let content = repeats.content else {
      return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })]
    }
    guard content.count == x.rank else {
      throw AttncError.invalid("repeats has \(content.count) entries for rank \(x.rank)")
    }
    return [TensorType(x.dtype, zip(x.dims, content).map { $0 * $1 })]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let repeats = try required(inputs, 1).int64s().map { Int($0) }
    guard repeats.count == x.rank else { throw AttncError.invalid("repeats has \(repeats.count) entries for rank \(x.rank)") }
    let shape = zip(x.shape, repeats).map { $0 * $1 }
    let strides = ElementPicking.strides(x.shape)
    var elements: [Int] = []
    ElementPicking.forEachIndex(shape) { index in
      var flat = 0
      for axis in index.indices { flat += (index[axis] % x.shape[axis]) * strides[axis] }
      elements.append(flat)
    }
    return [ElementPicking.pick(x, shape: shape, elements: elements)]
  }
}
