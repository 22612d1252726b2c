import AttncTensor

/// `Gather(data, indices)` on `axis`: output dims `data[..<axis] + indices + data[axis+1...]`;
/// negative indices count from the end. Gathering constant indices from a shape vector keeps
/// the picked dims symbolic.
public struct Gather: Op, Evaluable, ContentPropagating {
  public var axis: Int

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let data = try inputs.required(0)
    let indices = try inputs.required(1)
    guard indices.dtype == .int64 || indices.dtype == .int32 else {
      throw AttncError.invalid("indices must be int32 or int64, got \(indices.dtype)")
    }
    let a = try data.type.axis(axis)
    if let d = data.dims[a].value, let ints = indices.constantInts,
      let bad = ints.first(where: { $0 < -d || $0 >= d })
    {
      throw AttncError.invalid("index \(bad) is out of range for axis \(a) of size \(d)")
    }
    return [TensorType(data.dtype, Array(data.dims[..<a]) + indices.dims + Array(data.dims[(a + 1)...]))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    let indices = try required(inputs, 1)
    let a = try Shapes.normalize(axis: axis, rank: data.rank)
    let d = data.shape[a]
    let outer = data.shape[..<a].reduce(1, *)
    let inner = data.shape[(a + 1)...].reduce(1, *)
    let picks = try indices.int64s().map { raw -> Int in
      let i = Int(raw) < 0 ? Int(raw) + d : Int(raw)
      guard i >= 0 && i < d else { throw AttncError.invalid("index \(raw) is out of range for axis \(a) of size \(d)") }
      return i
    }
    var elements: [Int] = []
    elements.reserveCapacity(outer * picks.count * inner)
    for o in 0..<outer {
      for i in picks {
        for e in 0..<inner { elements.append((o * d + i) * inner + e) }
      }
    }
    let shape = Array(data.shape[..<a]) + indices.shape + Array(data.shape[(a + 1)...])
    return [ElementPicking.pick(data, shape: shape, elements: elements)]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let data = inputs.first ?? nil, data.rank == 1, let content = data.content,
      let indices = inputs.optional(1)?.constantInts, indices.count <= 64
    else { return [nil] }
    var result: [Dim] = []
    for raw in indices {
      let i = raw < 0 ? raw + content.count : raw
      guard i >= 0 && i < content.count else { return [nil] }
      result.append(content[i])
    }
    return [result]
  }
}
