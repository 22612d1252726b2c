import AttncTensor

/// `Gemm(A, B, C?) = alpha·A'·B' + beta·C` with `A' = Aᵀ` if `transA`, `B' = Bᵀ` if `transB`;
/// A and B are 2-D, C broadcasts to `[M, N]`.
public struct Gemm: Op {
  public var alpha: Float
  public var beta: Float
  public var transA: Bool
  public var transB: Bool

  public init(attributes: Attributes, opset: Int) throws {
    alpha = try attributes.float("alpha", default: 1)
    beta = try attributes.float("beta", default: 1)
    transA = try attributes.int("transA", default: 0) != 0
    transB = try attributes.int("transB", default: 0) != 0
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let a = try inputs.required(0), b = try inputs.required(1)
    try a.expectRank(2, "A")
    try b.expectRank(2, "B")
    try b.expectSameType(as: a, "B", "A")
    let m = transA ? a.dims[1] : a.dims[0]
    let ka = transA ? a.dims[0] : a.dims[1]
    let kb = transB ? b.dims[1] : b.dims[0]
    let n = transB ? b.dims[0] : b.dims[1]
    _ = try DimCheck.unify(ka, kb, "inner dims of A and B")
    if let c = inputs.optional(2) {
      _ = try Shapes.broadcast([c.dims, [m, n]])
      guard c.rank <= 2 else { throw AttncError.invalid("C must have rank ≤ 2") }
    }
    return [TensorType(a.dtype, [m, n])]
  }
}
