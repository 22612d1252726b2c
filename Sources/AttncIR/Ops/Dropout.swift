import AttncKernels
import AttncTensor

/// `Dropout(data, ratio?, training_mode?) → (output, mask?)`.
///
/// Unless `training_mode` (an input from opset 12) is true, or when the ratio is 0, the output is
/// the data and the mask all true. In training mode each element is kept with probability
/// `1 - ratio` and scaled by `1 / (1 - ratio)`; the runtime's "Dropout" kernel draws the choice
/// from a Mersenne Twister seeded with `seed`. That result is random, so it is not evaluated here.
///
/// The mask has the data's dims; it is bool from opset 10 and of the data's dtype before.
/// Opsets before 7 (`is_test`) are treated as inference.
public struct Dropout: AttributedOp {
  /// True from opset 10, where the mask is bool.
  public var boolMask: Bool
  /// True from opset 12, where `ratio` and `training_mode` are inputs.
  public var modeFromInputs: Bool
  /// The opset 1–11 `ratio` attribute (default 0.5).
  public var ratio: Float
  /// The `seed` attribute (opset 12): seeds the training-mode draw; nil lets the runtime pick one.
  public var seed: Int64?

  /// Reads `ratio` before opset 12 and `seed` from 12.
  public init(attributes: Attributes, opset: Int) throws {
    boolMask = opset >= 10
    modeFromInputs = opset >= 12
    ratio = modeFromInputs ? 0.5 : try attributes.float("ratio", default: 0.5)
    seed = modeFromInputs ? try attributes.int("seed").map { Int64($0) } : nil
  }

  /// The data's type, then the mask's.
  /// - Throws: "expects 1 to 3 inputs, got 4"; "ratio must be a scalar, got rank 1";
  ///   "training_mode must be bool, got int64".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(modeFromInputs ? 1...3 : 1...1)
    let x = try inputs.required(0)
    if let ratio = inputs.optional(1), ratio.rank != 0 {
      throw AttncError.invalid("ratio must be a scalar, got rank \(ratio.rank)")
    }
    if let mode = inputs.optional(2), mode.dtype != .bool {
      throw AttncError.invalid("training_mode must be bool, got \(mode.dtype)")
    }
    let mask = TensorType(boolMask ? .bool : x.dtype, x.dims)
    return Array([x.type, mask].prefix(max(1, outputCount)))
  }

}

extension Dropout: Lowerable {
  /// Inference (no `training_mode` input, or a constant false one) with an unused mask is a
  /// copy; otherwise the seeded draw runs.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    if isNoOp(context) { return Lowering(IdentityCall(), usedInputs: 1, usedOutputs: 1) }
    let maskType = (context.outputs.count > 1 ? context.outputs[1]?.dtype : nil) ?? .bool
    return Lowering(DropoutCall(seed: seed.map { Int($0) }, maskType: maskType), usedOutputs: context.isConsumed(1) ? nil : 1)
  }
}

extension Dropout: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}

extension Dropout: Bypassable {
  /// An inference dropout whose mask nothing reads.
  public func isNoOp(_ context: NodeContext) -> Bool {
    let training = context.inputs.count > 2 ? context.inputs[2] : nil
    return !context.isConsumed(1) && (training.map { $0.constant?.scalarInt == 0 } ?? true)
  }
}
