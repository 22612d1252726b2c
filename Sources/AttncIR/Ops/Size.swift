import AttncTensor

/// `Size(x)`: the element count of `x` as an int64 scalar; its content is the product of the dims.
public struct Size: Op, Evaluable, ContentPropagating {
  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    _ = try inputs.required(0)
    return [TensorType(.int64, [])]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    [HostTensor(int64s: [Int64(try required(inputs, 0).count)], shape: [])]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil else { return [nil] }
    return [[x.type.elementCount]]
  }
}
