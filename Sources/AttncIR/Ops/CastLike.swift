import AttncKernels
import AttncTensor

/// `CastLike(x, like)`: `Cast(x)` to the dtype of `like`.
///
/// The data of `like` is not read. `saturate`
/// (opset 19) and `round_mode` (opset 24) mean what they mean for `Cast`.
public struct CastLike: AttributedOp, ContentPropagating {
  /// The `saturate` attribute (default 1).
  public var saturate: Bool
  /// The `round_mode` attribute (default "up").
  public var roundMode: Cast.RoundMode

  /// Reads `saturate` and `round_mode`.
  /// - Throws: "round_mode 'sideways' is not one of up, down, nearest".
  public init(attributes: Attributes, opset: Int) throws {
    var cast = Cast(to: .float)
    try cast.readConversionAttributes(attributes)
    saturate = cast.saturate
    roundMode = cast.roundMode
  }

  /// The Cast this node performs for a `like` input of `dtype`.
  public func cast(to dtype: DType) -> Cast { Cast(to: dtype, saturate: saturate, roundMode: roundMode) }

  /// `x`'s dims in `like`'s dtype.
  /// - Throws: "expects 2 inputs, got 1".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0)
    return [TensorType(try inputs.required(1).dtype, x.dims)]
  }

  /// As for `Cast`: integer contents to an integer dtype pass through.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let target = outputTypes.first?.dtype else { return [nil] }
    return [Cast.content(inputs.first ?? nil, to: target)]
  }
}

extension CastLike: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return try cast(to: type.dtype).lower(context)
  }
}

extension CastLike: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}

extension CastLike: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
