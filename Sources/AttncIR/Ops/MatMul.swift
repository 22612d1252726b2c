import AttncKernels
import AttncTensor

/// `MatMul(A, B)` with numpy semantics: `Y[…, i, j] = Σₚ A[…, i, p] · B[…, p, j]`.
///
/// The leading (batch) axes broadcast; a 1-D `A [K]` is read as `[1, K]` and a 1-D `B [K]` as
/// `[K, 1]`, and the added axis is dropped from the result (`[K] × [K] → []`). Both inputs share
/// one numeric type; integer evaluation is exact (wrapping).
public struct MatMul: AttributelessOp {
  /// MatMul has no attributes.
  public init() {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let a = try inputs.required(0)
    let b = try inputs.required(1)
    try a.expectNumeric("A")
    guard a.dtype == b.dtype else {
      throw AttncError.invalid("input types differ: \(a.dtype) and \(b.dtype)")
    }
    return [TensorType(a.dtype, try MatMul.productDims(a, b))]
  }

  /// The dims of the numpy product `a × b` (shared by the quantized products).
  /// - Throws: "inputs must have rank ≥ 1", "inner dims [2, 3] × [4, 5] differ: 3 and 4", batch
  ///   dims that do not broadcast.
  public static func productDims(_ a: ValueFact, _ b: ValueFact) throws -> [Dim] {
    guard a.rank >= 1 && b.rank >= 1 else {
      throw AttncError.invalid("inputs must have rank ≥ 1, got ranks \(a.rank) and \(b.rank)")
    }
    let aDims = a.rank == 1 ? [1] + a.dims : a.dims
    let bDims = b.rank == 1 ? b.dims + [1] : b.dims
    _ = try DimCheck.unify(
      aDims[aDims.count - 1], bDims[bDims.count - 2],
      "inner dims \(a.dims.shapeDescription) × \(b.dims.shapeDescription)")
    var dims = try Shapes.broadcast([Array(aDims.dropLast(2)), Array(bDims.dropLast(2))])
    if a.rank > 1 { dims.append(aDims[aDims.count - 2]) }
    if b.rank > 1 { dims.append(bDims[bDims.count - 1]) }
    return dims
  }

}

extension MatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(MatMulCall()) }
}

extension MatMul: Tokenwise {
  /// Per token when only A is merged, its token axis is not the contracted one, and B is a
  /// weight matrix.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    guard reads.count == 1, reads[0].position == 0, reads[0].axis < rank - 1, let weight = context.inputs[1], weight.rank <= 2 else {
      return .notPerToken("a matrix product over the token axis")
    }
    return .perToken([reads[0].axis])
  }
}
