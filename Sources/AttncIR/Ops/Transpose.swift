import AttncKernels
import AttncTensor

/// `Transpose(x)`: output axis `i` is input axis `perm[i]` (default: the axes reversed), so
/// `[batch, seq, 12, 64]` with `perm = [0, 2, 1, 3]` becomes `[batch, 12, seq, 64]`.
public struct Transpose: AttributedOp, ContentPropagating {
  /// The `perm` attribute; nil reverses the axes.
  public var perm: [Int]?

  /// Reads `perm` (same meaning in every opset).
  public init(attributes: Attributes, opset: Int) throws {
    perm = try attributes.ints("perm")
  }

  /// The normalised permutation for an input of `rank` (lowering reads it too).
  /// - Throws: "perm [0, 2] has 2 entries for rank 3"; "perm [0, 0, 1] is not a permutation".
  public func permutation(_ rank: Int) throws -> [Int] {
    let p = perm ?? Array((0..<rank).reversed())
    guard p.count == rank else {
      throw AttncError.invalid("perm \(p) has \(p.count) entries for rank \(rank)")
    }
    let normalized = try p.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == rank else {
      throw AttncError.invalid("perm \(p) is not a permutation")
    }
    return normalized
  }

  /// `dims[perm[i]]` for each output axis `i`.
  /// - Throws: see `permutation(_:)`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    return [TensorType(x.dtype, try permutation(x.rank).map { x.dims[$0] })]
  }

  /// A rank-0 or rank-1 value is its own transpose: the content passes through.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.rank <= 1 else { return [nil] }
    return [x.content]
  }
}

extension Transpose: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(TransposeCall(perm: try permutation(context.rank)))
  }
}

extension Transpose: Tokenwise {
  /// Per token: the token axis moves where the permutation sends it.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    guard let perm = try? permutation(rank), let moved = perm.firstIndex(of: reads[0].axis) else { return .notPerToken("transpose") }
    return .perToken([moved])
  }
}
