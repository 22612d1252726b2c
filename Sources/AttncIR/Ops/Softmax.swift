import AttncKernels
import AttncTensor
import Foundation

/// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`.
///
/// Opset 1 and 11 coerce the input to 2-D at `axis` (default 1) and normalise over everything from
/// `axis` on; opset 13 normalises over the single `axis` (default -1). `coercesTo2D` records which.
public struct Softmax: AttributedOp {
  public var axis: Int
  public var coercesTo2D: Bool

  public init(axis: Int = -1, coercesTo2D: Bool = false) {
    self.axis = axis
    self.coercesTo2D = coercesTo2D
  }

  public init(attributes: Attributes, opset: Int) throws {
    coercesTo2D = opset < 13
    axis = try attributes.int("axis", default: coercesTo2D ? 1 : -1)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    guard x.dtype.isFloatingPoint else {
      throw AttncError.invalid("input must be a floating-point tensor, got \(x.dtype)")
    }
    _ = try x.type.axis(axis)
    return [x.type]
  }

}

extension Softmax: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(SoftmaxCall(axis: try context.axis(axis), coerce2D: coercesTo2D))
  }
}

extension Softmax: Tokenwise {
  /// Per token unless the softmax runs over the token axis (or flattens it in, opset < 13).
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    let at = axis < 0 ? axis + rank : axis
    let token = reads[0].axis
    return token < at || (!coercesTo2D && token != at) ? .perToken([token]) : .notPerToken("a softmax over the token axis")
  }
}
