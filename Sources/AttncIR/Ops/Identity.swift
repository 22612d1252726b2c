import AttncKernels
import AttncTensor

/// `Identity(x) = x`, for every dtype.
///
/// Sequence and optional values, which attnc does not type,
/// pass through shape inference unknown). Its content is the input's.
public struct Identity: AttributelessOp, ContentPropagating {
  /// Identity has no attributes in any opset.
  public init() {}

  /// The input's type.
  /// - Throws: "expects 1 inputs, got 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    return [try inputs.required(0).type]
  }

  /// The input's content.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}

extension Identity: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(IdentityCall()) }
}

extension Identity: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}

extension Identity: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { context.inputs.first??.type != nil }
}
