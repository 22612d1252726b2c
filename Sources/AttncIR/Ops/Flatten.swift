import AttncTensor

/// `Flatten(x)`: 2-D `[d0*…*d(axis-1), d(axis)*…*d(r-1)]` (axis default 1, may equal the rank).
public struct Flatten: Op, Evaluable {
  public var axis: Int

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 1)
  }

  func split(_ rank: Int) throws -> Int {
    guard axis >= -rank && axis <= rank else {
      throw AttncError.invalid("axis \(axis) is out of range for rank \(rank)")
    }
    return axis < 0 ? axis + rank : axis
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    let a = try split(x.rank)
    return [TensorType(x.dtype, [x.dims[..<a].reduce(Dim(1), *), x.dims[a...].reduce(Dim(1), *)])]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let a = try split(x.rank)
    return [x.reshaped([x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)])]
  }
}
