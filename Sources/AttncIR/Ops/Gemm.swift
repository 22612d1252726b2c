import AttncTensor

/// `Gemm(A, B, C?)`: `Y = alpha · A' · B' + beta · C` with `A' = Aᵀ` when `transA`, `B' = Bᵀ` when
/// `transB` (defaults: alpha = beta = 1, no transposes).
///
/// `A' [M, K]`, `B' [K, N]` → `Y [M, N]`; C broadcasts one way to `[M, N]` (a scalar, `[N]`,
/// `[M, 1]`, `[1, N]`, `[M, N]`) and is optional from opset 11.
public struct Gemm: Op, Evaluable {
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

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let a = try required(inputs, 0)
    let b = try required(inputs, 1)
    guard a.dtype.isFloatingPoint, a.rank == 2, b.rank == 2 else {
      throw AttncError.unsupported("Gemm on \(a.dtype) is not evaluated")
    }
    let m = transA ? a.shape[1] : a.shape[0]
    let k = transA ? a.shape[0] : a.shape[1]
    let n = transB ? b.shape[0] : b.shape[1]
    guard (transB ? b.shape[1] : b.shape[0]) == k else {
      throw AttncError.invalid("inner dims of A and B differ")
    }
    let x = a.doubles()
    let y = b.doubles()
    var out = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var sum = 0.0
        for p in 0..<k {
          sum += x[transA ? p * m + i : i * k + p] * y[transB ? j * k + p : p * n + j]
        }
        out[i * n + j] = Double(alpha) * sum
      }
    }
    if let c = inputs.count > 2 ? inputs[2] : nil {
      let indexer = try BroadcastIndexer([c.shape, [m, n]])
      guard indexer.outputShape == [m, n] else {
        throw AttncError.invalid("input 'C' \(c.shape) does not broadcast to [\(m), \(n)]")
      }
      let values = c.doubles()
      let index = indexer.indices()[0]
      for i in out.indices { out[i] += Double(beta) * values[index[i]] }
    }
    return [HostTensor(dtype: a.dtype, shape: [m, n], converting: out)]
  }
}
