import AttncKernels
import AttncTensor

/// `Gemm(A, B, C?)`: `Y = alpha · A' · B' + beta · C` with `A' = Aᵀ` when `transA`, `B' = Bᵀ` when
/// `transB` (defaults: alpha = beta = 1, no transposes).
///
/// `A' [M, K]`, `B' [K, N]` → `Y [M, N]`; C broadcasts one way to `[M, N]` (a scalar, `[N]`,
/// `[M, 1]`, `[1, N]`, `[M, N]`) and is optional from opset 11.
public struct Gemm: AttributedOp {
  public var alpha: Float
  public var beta: Float
  public var transA: Bool
  public var transB: Bool
  /// Whether C may be omitted (opset 11 on).
  public var optionalC: Bool

  public init(attributes: Attributes, opset: Int) throws {
    alpha = try attributes.float("alpha", default: 1)
    beta = try attributes.float("beta", default: 1)
    transA = try attributes.int("transA", default: 0) != 0
    transB = try attributes.int("transB", default: 0) != 0
    optionalC = opset >= 11
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(optionalC ? 2...3 : 3...3)
    let a = try inputs.required(0)
    let b = try inputs.required(1)
    try a.expectNumeric("A")
    try a.expectRank(2, "A")
    try b.expectRank(2, "B")
    try b.expectSameType(as: a, "B", "A")
    let m = transA ? a.dims[1] : a.dims[0]
    let n = transB ? b.dims[0] : b.dims[1]
    _ = try DimCheck.unify(
      transA ? a.dims[0] : a.dims[1], transB ? b.dims[1] : b.dims[0], "inner dims of A and B")
    let c: ValueFact? = try optionalC ? inputs.optional(2) : inputs.required(2)
    if let c {
      try c.expectSameType(as: a, "C", "A")
      let broadcast = try Shapes.broadcast([c.dims, [m, n]])
      guard c.rank <= 2, broadcast == [m, n] else {
        throw AttncError.invalid(
          "input 'C' of shape \(c.dims.shapeDescription) does not broadcast to [\(m), \(n)]")
      }
    }
    return [TensorType(a.dtype, [m, n])]
  }

}

extension Gemm: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(GemmCall(alpha: alpha, beta: beta, transposeA: transA, transposeB: transB))
  }
}
