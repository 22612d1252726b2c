import AttncKernels
import AttncTensor

/// ONNX Runtime contrib ops `com.microsoft.BiasGelu(A, B)` = `Gelu(A + B)` (erf form) and
/// `com.microsoft.FastGelu(X, bias?)` = the tanh approximation of `Gelu(X + bias)`, which ONNX
/// Runtime's transformers optimizer writes after each MLP's first product. `B` / `bias` is 1-D,
/// the size of the last axis of A.
public struct BiasGelu: Op {
  /// `FastGelu` (tanh form, bias optional) rather than `BiasGelu` (erf form, bias required).
  public var tanhApproximation: Bool

  public init(tanhApproximation: Bool) { self.tanhApproximation = tanhApproximation }

  /// A float A (rank ≥ 1) and a 1-D bias of A's last dim; the output has A's type.
  /// - Throws: "expects 2 inputs, got 1", "bias [8] does not match the last dim of A [2, 4]".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(tanhApproximation ? 1...2 : 2...2)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("A")
    guard x.rank >= 1 else { throw AttncError.invalid("input 'A' must have rank ≥ 1, got a scalar") }
    if let bias = inputs.optional(1) {
      let last = x.dims[x.rank - 1]
      guard bias.dtype == x.dtype, bias.rank == 1, bias.dims[0] == last || bias.dims[0].value == nil || last.value == nil
      else {
        throw AttncError.invalid("bias \(bias.dims.shapeDescription) does not match the last dim of A \(x.dims.shapeDescription)")
      }
    }
    return [x.type]
  }
}

extension BiasGelu: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(BiasGeluCall(tanhApproximation: tanhApproximation)) }
}

extension BiasGelu: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
