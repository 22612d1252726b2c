import AttncTensor

/// `Expand(x, shape)`: broadcasts `x` against `shape` (numpy rules; the result may be larger than
/// `shape` where `x` has more or larger axes).
public struct Expand: Op, Evaluable, ContentPropagating {
  private let fresh = DataDependentDims("expand")

  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    let shape = try inputs.required(1)
    guard shape.rank == 1 else { throw AttncError.invalid("shape must be a 1-D tensor, got rank \(shape.rank)") }
    guard let length = shape.dims[0].value else {
      throw AttncError.unsupported("the output rank depends on data (shape has length \(shape.dims[0]))")
    }
    guard let content = shape.content else {
      let rank = max(length, x.rank)
      return [TensorType(x.dtype, (0..<rank).map { fresh.dim($0) })]
    }
    return [TensorType(x.dtype, try Shapes.broadcast([x.dims, content]))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let target = try required(inputs, 1).int64s().map { Int($0) }
    let indexer = try BroadcastIndexer([x.shape, target])
    return [ElementPicking.pick(x, shape: indexer.outputShape, elements: indexer.indices()[0])]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, let content = x.content, x.rank <= 1,
      let n = outputTypes.first?.dims.first?.value, outputTypes.first?.rank == 1,
      content.count == 1 || content.count == n
    else { return [nil] }
    return [content.count == n ? content : [Dim](repeating: content[0], count: n)]
  }
}
