import AttncKernels
import AttncTensor

/// `Size(x)`: the element count of `x` as an int64 scalar.
///
/// Its content is the product of the
/// dims, so `Size` of a `[batch, seq, 768]` tensor is `768*batch*seq` before any input is bound.
public struct Size: AttributelessOp, ContentPropagating {
  /// Size has no attributes in any opset.
  public init() {}

  /// One int64 scalar; any input type (string tensors included).
  /// - Throws: "expects 1 inputs, got 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    _ = try inputs.required(0)
    return [TensorType(.int64, [])]
  }

  /// `[d0 * d1 * …]`, symbolic where the dims are.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil else { return [nil] }
    return [[x.type.elementCount]]
  }
}

extension Size: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(SizeCall()) }
}
