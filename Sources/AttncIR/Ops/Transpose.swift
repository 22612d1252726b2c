import AttncTensor

/// `Transpose(x)`: output axis `i` is input axis `perm[i]` (default: reversed axes).
public struct Transpose: Op, Evaluable, ContentPropagating {
  public var perm: [Int]?

  public init(attributes: Attributes, opset: Int) throws {
    perm = try attributes.ints("perm")
  }

  func permutation(_ rank: Int) throws -> [Int] {
    let p = perm ?? Array((0..<rank).reversed())
    guard p.count == rank else {
      throw AttncError.invalid("perm \(p) has \(p.count) entries for rank \(rank)")
    }
    let normalized = try p.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == rank else { throw AttncError.invalid("perm \(p) is not a permutation") }
    return normalized
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    return [TensorType(x.dtype, try permutation(x.rank).map { x.dims[$0] })]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let p = try permutation(x.rank)
    let shape = p.map { x.shape[$0] }
    let strides = ElementPicking.strides(x.shape)
    var elements: [Int] = []
    elements.reserveCapacity(x.count)
    ElementPicking.forEachIndex(shape) { index in
      var flat = 0
      for (i, axis) in p.enumerated() { flat += index[i] * strides[axis] }
      elements.append(flat)
    }
    return [ElementPicking.pick(x, shape: shape, elements: elements)]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}
