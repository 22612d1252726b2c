import AttncKernels
import AttncTensor

/// `MatMul(A, B)` with numpy semantics: `Y[…, i, j] = Σₚ A[…, i, p] · B[…, p, j]`.
///
/// The leading (batch) axes broadcast; a 1-D `A [K]` is read as `[1, K]` and a 1-D `B [K]` as
/// `[K, 1]`, and the added axis is dropped from the result (`[K] × [K] → []`). Both inputs share
/// one numeric type; integer evaluation is exact (wrapping).
public struct MatMul: Op, Evaluable {
  /// MatMul has no attributes.
  public init() {}
  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let a = try inputs.required(0)
    let b = try inputs.required(1)
    try a.expectNumeric("A")
    guard a.dtype == b.dtype else {
      throw AttncError.invalid("input types differ: \(a.dtype) and \(b.dtype)")
    }
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
    return [TensorType(a.dtype, dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let a = try required(inputs, 0)
    let b = try required(inputs, 1)
    let aShape = a.rank == 1 ? [1] + a.shape : a.shape
    let bShape = b.rank == 1 ? b.shape + [1] : b.shape
    let m = aShape[aShape.count - 2]
    let k = aShape[aShape.count - 1]
    let n = bShape[bShape.count - 1]
    guard bShape[bShape.count - 2] == k else {
      throw AttncError.invalid("inner dims differ: \(k) and \(bShape[bShape.count - 2])")
    }
    let indexer = try BroadcastIndexer([Array(aShape.dropLast(2)), Array(bShape.dropLast(2))])
    let batches = indexer.indices()
    var shape = indexer.outputShape
    if a.rank > 1 { shape.append(m) }
    if b.rank > 1 { shape.append(n) }

    /// `out[t, i, j] += x[i, p] · y[p, j]` per broadcast batch `t`.
    func product<T>(_ x: [T], _ y: [T], zero: T, _ multiplyAdd: (T, T, T) -> T) -> [T] {
      var out = [T](repeating: zero, count: indexer.count * m * n)
      for t in 0..<indexer.count {
        let xo = batches[0][t] * m * k
        let yo = batches[1][t] * k * n
        let oo = t * m * n
        for i in 0..<m {
          for p in 0..<k {
            let xv = x[xo + i * k + p]
            for j in 0..<n {
              out[oo + i * n + j] = multiplyAdd(out[oo + i * n + j], xv, y[yo + p * n + j])
            }
          }
        }
      }
      return out
    }

    if a.dtype.isInteger {
      let out = product(a.int64s(), b.int64s(), zero: Int64(0)) { $0 &+ $1 &* $2 }
      return [HostTensor(dtype: a.dtype, shape: shape, integers: out)]
    }
    guard a.dtype.isFloatingPoint else {
      throw AttncError.unsupported("MatMul on \(a.dtype) is not evaluated")
    }
    let out = product(a.doubles(), b.doubles(), zero: 0.0) { $0 + $1 * $2 }
    return [HostTensor(dtype: a.dtype, shape: shape, converting: out)]
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
