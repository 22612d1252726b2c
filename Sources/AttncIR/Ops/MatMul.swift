import AttncTensor

/// `MatMul(a, b)` with numpy semantics: batched over leading axes (broadcast), a 1-D `a` is a row
/// and a 1-D `b` a column (their axis is dropped from the result).
public struct MatMul: Op, Evaluable {
  public init(attributes: Attributes, opset: Int) throws {}
  public init() {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let a = try inputs.required(0)
    let b = try inputs.required(1)
    guard a.dtype == b.dtype else { throw AttncError.invalid("input types differ: \(a.dtype) and \(b.dtype)") }
    guard a.rank >= 1 && b.rank >= 1 else { throw AttncError.invalid("inputs must have rank ≥ 1") }
    let aDims = a.rank == 1 ? [Dim(1)] + a.dims : a.dims
    let bDims = b.rank == 1 ? b.dims + [Dim(1)] : b.dims
    let k = try DimCheck.unify(aDims[aDims.count - 1], bDims[bDims.count - 2], "inner dims \(a.dims.shapeDescription) × \(b.dims.shapeDescription)")
    _ = k
    var dims = try Shapes.broadcast([Array(aDims.dropLast(2)), Array(bDims.dropLast(2))])
    if a.rank > 1 { dims.append(aDims[aDims.count - 2]) }
    if b.rank > 1 { dims.append(bDims[bDims.count - 1]) }
    return [TensorType(a.dtype, dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let a = try required(inputs, 0), b = try required(inputs, 1)
    let aShape = a.rank == 1 ? [1] + a.shape : a.shape
    let bShape = b.rank == 1 ? b.shape + [1] : b.shape
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1], n = bShape[bShape.count - 1]
    guard bShape[bShape.count - 2] == k else { throw AttncError.invalid("inner dims differ: \(k) and \(bShape[bShape.count - 2])") }
    let aBatch = Array(aShape.dropLast(2)), bBatch = Array(bShape.dropLast(2))
    let indexer = try BroadcastIndexer([aBatch, bBatch])
    let batches = indexer.indices()
    let x = a.doubles(), y = b.doubles()
    var out = [Double](repeating: 0, count: indexer.count * m * n)
    for t in 0..<indexer.count {
      let ao = batches[0][t] * m * k, bo = batches[1][t] * k * n, oo = t * m * n
      for i in 0..<m {
        for p in 0..<k {
          let av = x[ao + i * k + p]
          if av == 0 { continue }
          for j in 0..<n { out[oo + i * n + j] += av * y[bo + p * n + j] }
        }
      }
    }
    var shape = indexer.outputShape
    if a.rank > 1 { shape.append(m) }
    if b.rank > 1 { shape.append(n) }
    return [HostTensor(dtype: a.dtype, shape: shape, converting: out)]
  }
}
