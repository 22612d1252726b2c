import AttncKernels
import AttncTensor

/// `ConvTranspose(X, W, B?)`: the transpose (gradient) of `Conv`, in channel groups.
///
/// `X [N, C, D₁…Dₙ]`, `W [C, M/group, k₁…kₙ]`, `B [M]` → `Y [N, M, O₁…Oₙ]` with, per spatial
/// axis, `O = output_shape[i]` when the attribute is given, `O = D·stride` for `SAME_UPPER` /
/// `SAME_LOWER`, else `O = stride·(D-1) + output_padding + dilation·(k-1) + 1 - pad_begin -
/// pad_end` (pads zero for `VALID`). Attributes as `Conv`, plus `output_padding` (default 0) and
/// `output_shape` (spatial dims, or a full shape whose last n entries are used).
public struct ConvTranspose: AttributedOp {
  /// Kernel, strides, dilations, pads and group, as for `Conv`.
  public var geometry: ConvGeometry
  public var outputPadding: [Int]?
  public var outputShape: [Int]?

  public init(attributes: Attributes, opset: Int) throws {
    geometry = try ConvGeometry(attributes)
    outputPadding = try attributes.ints("output_padding")
    outputShape = try attributes.ints("output_shape")
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (x, w, kernel) = try geometry.operands(inputs)
    let spatial = kernel.count
    _ = try DimCheck.unify(x.dims[1], w.dims[0], "input channels and W's input channels")
    let m = w.dims[1] * Dim(geometry.group)
    if let b = inputs.optional(2) {
      try b.expectSameType(as: x, "B", "X")
      try b.expectRank(1, "B")
      _ = try DimCheck.unify(b.dims[0], m, "B's length and the output channels")
    }
    if let outputPadding {
      guard outputPadding.count == spatial, outputPadding.allSatisfy({ $0 >= 0 }) else {
        throw AttncError.invalid(
          "attribute 'output_padding' \(outputPadding) does not fit \(spatial) spatial axes")
      }
    }
    var dims: [Dim] = [x.dims[0], m]
    if let outputShape {
      guard outputShape.count == spatial || outputShape.count == x.rank else {
        throw AttncError.invalid(
          "attribute 'output_shape' has \(outputShape.count) entries for \(spatial) spatial axes")
      }
      dims += outputShape.suffix(spatial).map { Dim($0) }
      return [TensorType(x.dtype, dims)]
    }
    for i in 0..<spatial {
      let input = x.dims[2 + i]
      let s = geometry.stride(i)
      switch geometry.autoPad {
      case .sameUpper, .sameLower:
        dims.append(input * Dim(s))
      case .notSet, .valid:
        let extra = (outputPadding?[i] ?? 0) - geometry.padBegin(i) - geometry.padEnd(i)
        let span = Dim(geometry.dilation(i)) * (kernel[i] - 1) + 1
        let out = Dim(s) * (input - 1) + span + Dim(extra)
        if let value = out.value, value < 1 {
          throw AttncError.invalid("spatial axis \(i): output length \(value) is not positive")
        }
        dims.append(out)
      }
    }
    return [TensorType(x.dtype, dims)]
  }
}

extension ConvTranspose {
  /// Begin pads per spatial axis. `NOTSET`: the explicit `pads` (0 when absent, so an
  /// `output_shape` alone crops or zero-extends the output at the end); `VALID`: 0;
  /// `SAME_UPPER` / `SAME_LOWER`: from `total = stride·(D-1) + output_padding + dilation·(k-1)
  /// + 1 - O`, `SAME_UPPER` putting `⌊total/2⌋` first, `SAME_LOWER` `total - ⌊total/2⌋`.
  /// Nil when that needs a symbolic dim.
  /// - Parameters: `x`, `w`, `out`: the dims of X, W and Y.
  public func beginPads(_ x: [Dim], _ w: [Dim], _ out: [Dim]) -> [Int]? {
    geometry.beginPads(x, w, out) { i, input, o, k in
      geometry.stride(i) * (input - 1) + (outputPadding?[i] ?? 0) + geometry.dilation(i) * (k - 1) + 1 - o
    }
  }
}

extension ConvTranspose: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    try geometry.lowering(context, beginPads: beginPads, .transposed)
  }
}
