import AttncTensor

/// `Identity(x) = x` (also for sequence and optional values, which attnc passes through).
public struct Identity: Op, Evaluable, ContentPropagating {
  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    return [try inputs.required(0).type]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    [try required(inputs, 0)]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}
