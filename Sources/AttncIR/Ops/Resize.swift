import AttncTensor
import Foundation

/// `Resize(X, roi?, scales?, sizes?)`: output dims `floor(in · scale)` from `scales`, or `sizes`
/// (with `keep_aspect_ratio_policy` `not_larger`/`not_smaller` one scale for all listed axes,
/// dims `round(in · scale)`), on `axes` (default all). Opset 10 takes only `scales`.
public struct Resize: Op {
  public var axes: [Int]?
  public var keepAspectRatioPolicy: String
  public var opset: Int
  private let fresh = DataDependentDims("resize")

  public init(attributes: Attributes, opset: Int) throws {
    axes = try attributes.ints("axes")
    keepAspectRatioPolicy = try attributes.string("keep_aspect_ratio_policy", default: "stretch")
    self.opset = opset
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...4)
    let x = try inputs.required(0)
    let axes = try (self.axes ?? Array(0..<x.rank)).map { try x.type.axis($0) }
    let scalesFact = opset < 11 ? inputs.optional(1) : inputs.optional(2)
    let sizesFact = opset < 11 ? nil : inputs.optional(3)
    var dims = x.dims
    if let sizesFact, sizesFact.dims.first?.value ?? 0 > 0 || sizesFact.constant != nil {
      guard let sizes = sizesFact.constantInts else { return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })] }
      guard sizes.count == axes.count else { throw AttncError.invalid("sizes has \(sizes.count) entries for \(axes.count) axes") }
      if keepAspectRatioPolicy == "stretch" {
        for (k, axis) in axes.enumerated() { dims[axis] = Dim(sizes[k]) }
      } else {
        let inputs = try axes.map { axis -> Int in
          guard let v = x.dims[axis].value else { throw AttncError.unsupported("aspect-ratio policy needs constant input dims") }
          return v
        }
        let ratios = zip(sizes, inputs).map { Double($0) / Double($1) }
        let scale = keepAspectRatioPolicy == "not_larger" ? (ratios.min() ?? 1) : (ratios.max() ?? 1)
        for (k, axis) in axes.enumerated() { dims[axis] = Dim(Int((Double(inputs[k]) * scale).rounded())) }
      }
      return [TensorType(x.dtype, dims)]
    }
    guard let scalesFact, let scales = scalesFact.constant?.doubles() else {
      return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })]
    }
    guard scales.count == axes.count else { throw AttncError.invalid("scales has \(scales.count) entries for \(axes.count) axes") }
    for (k, axis) in axes.enumerated() {
      if let v = x.dims[axis].value {
        dims[axis] = Dim(Int(floor(Double(v) * scales[k] + 1e-9)))
      } else if scales[k] == 1 {
        continue
      } else if scales[k] == scales[k].rounded(), scales[k] > 0 {
        dims[axis] = x.dims[axis] * Dim(Int(scales[k]))
      } else {
        dims[axis] = fresh.dim(axis)
      }
    }
    return [TensorType(x.dtype, dims)]
  }
}
