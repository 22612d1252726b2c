import AttncTensor

/// `ConvTranspose(X, W, B?)`: the gradient of Conv. W `[C, M/group, k1…]`; output spatial dim
/// `stride·(in-1) + output_padding + dilation·(k-1) + 1 - pads`, or `output_shape` when given,
/// or `in·stride` for SAME padding.
public struct ConvTranspose: Op {
  var geometry: ConvGeometry
  var outputPadding: [Int]?
  var outputShape: [Int]?

  public init(attributes: Attributes, opset: Int) throws {
    geometry = try ConvGeometry(attributes)
    outputPadding = try attributes.ints("output_padding")
    outputShape = try attributes.ints("output_shape")
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0), w = try inputs.required(1)
    guard x.rank >= 3, w.rank == x.rank else {
      throw AttncError.invalid("X has rank \(x.rank) and W rank \(w.rank); both must be equal and ≥ 3")
    }
    let spatial = x.rank - 2
    try geometry.validate(spatial: spatial)
    var dims: [Dim] = [x.dims[0], w.dims[1] * Dim(geometry.group)]
    for i in 0..<spatial {
      if let outputShape {
        guard outputShape.count >= spatial else { throw AttncError.invalid("output_shape has \(outputShape.count) entries for \(spatial) spatial axes") }
        dims.append(Dim(outputShape[outputShape.count - spatial + i]))
        continue
      }
      let input = x.dims[2 + i]
      let s = geometry.stride(i)
      if geometry.autoPad == "SAME_UPPER" || geometry.autoPad == "SAME_LOWER" {
        dims.append(input * Dim(s))
        continue
      }
      let k = geometry.kernelShape?[safe: i].map { Dim($0) } ?? w.dims[2 + i]
      let pads = geometry.autoPad == "VALID" ? 0 : geometry.padSum(i, spatial: spatial)
      let extra = outputPadding?[safe: i] ?? 0
      dims.append(Dim(s) * (input - 1) + Dim(extra) + Dim(geometry.dilation(i)) * (k - 1) + 1 - Dim(pads))
    }
    return [TensorType(x.dtype, dims)]
  }
}
