import AttncKernels
import AttncTensor

/// ONNX Runtime contrib op `com.microsoft.QuickGelu`: `Y = X·sigmoid(α·X)` (α = 1.702 by
/// default), the sigmoid approximation of GELU that CLIP-style models and ONNX Runtime's
/// optimizer write. It is ONNX `Swish` with that α, so it runs (and folds) on `Swish`'s kernel.
public struct QuickGelu: AttributedOp {
  public static let type = "QuickGelu"
  public static let domain = "com.microsoft"

  public var alpha: Double

  public init(alpha: Double = 1.702) { self.alpha = alpha }

  public init(attributes: Attributes, opset: Int) throws {
    self.init(alpha: Double(try attributes.float("alpha", default: 1.702)))
  }

  /// One floating-point input; the output has its type.
  /// - Throws: "expects 1 inputs, got 2", "input 'X' must be floating-point, got int64".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    return [x.type]
  }

}

extension QuickGelu: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(UnaryCall("Swish", alpha: alpha)) }
}

extension QuickGelu: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
