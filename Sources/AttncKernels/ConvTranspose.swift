import AttncTensor

/// `ConvTranspose` by GEMM + col2im, per batch and group.
///
/// With `X [N, C, D…]`, `W [C, M/group, K…]`: per group `g`, the columns
/// `cols[(m, k), i] = Σ_c W[c, m, k] · X[n, c, i]` (one `gemm` with `Wᵀ`), then each column entry
/// is added into `Y[n, m, i·stride - pad_begin + k·dilation]` when that lies inside the output.
public enum TransposedConvolution {
  /// `window.padsBegin` may be negative (the output shifted right); `window.outputSpatial` is the
  /// output's spatial dims.
  public static func convTranspose(_ x: Tensor, _ w: Tensor, bias: Tensor?, window: ConvolutionWindow) throws -> Tensor {
    try w.floats.withUnsafeBufferPointer { wp in
      try convTranspose(x, weightShape: w.shape, bias: bias, window: window) { g, m, n, k, input, columns in
        // cols [M/group·K, inSize] = W_gᵀ [M/group·K, C/group] · X_g [C/group, inSize]
        gemm(m: m, n: n, k: k, wp.baseAddress! + g * k * m, transposeA: true, input, into: columns)
      }
    }
  }

  /// `convTranspose` with each group's columns left to `product(g, m, n, k, input, columns)`:
  /// `columns [m, n] = W_gᵀ [m, k] · X_g [k, n]` (m = M/group·K, k = C/group, n = input
  /// positions). `weightShape` is W's `[C, M/group, K…]`.
  static func convTranspose(
    _ x: Tensor, weightShape: [Int], bias: Tensor?, window: ConvolutionWindow,
    product: (_ group: Int, _ m: Int, _ n: Int, _ k: Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) throws -> Tensor {
    let spatial = x.rank - 2, (group, outputSpatial) = (window.group, window.outputSpatial)
    guard weightShape.count == x.rank, window.strides.count == spatial, window.dilations.count == spatial,
      window.padsBegin.count == spatial, outputSpatial.count == spatial
    else { throw AttncError.invalid("ConvTranspose parameters do not fit rank \(x.rank)") }
    let batch = x.shape[0], channels = x.shape[1]
    let cPerGroup = channels / group, mPerGroup = weightShape[1], filters = mPerGroup * group
    guard weightShape[0] == channels else {
      throw AttncError.invalid("W has \(weightShape[0]) input channels, X has \(channels)")
    }
    let kernel = Array(weightShape[2...])
    let inSpatial = Array(x.shape[2...])
    let kernelSize = kernel.reduce(1, *)
    let inSize = inSpatial.reduce(1, *)
    let outSize = outputSpatial.reduce(1, *)
    let rows = mPerGroup * kernelSize
    // For each (kernel offset, input position), the output offset or -1 (cropped away).
    let offsets = Convolution.windowOffsets(kernel: kernel, walk: inSpatial, target: outputSpatial, window: window)
    var columns = [Float](unsafeUninitializedCapacity: rows * inSize) { _, count in count = rows * inSize }
    var out = [Float](repeating: 0, count: batch * filters * outSize)
    for n in 0..<batch {
      for g in 0..<group {
        x.floats.withUnsafeBufferPointer { xp in
          columns.withUnsafeMutableBufferPointer { cp in
            guard let xb = xp.baseAddress, let cb = cp.baseAddress else { return }
            product(g, rows, inSize, cPerGroup, xb + (n * channels + g * cPerGroup) * inSize, cb)
          }
        }
        // col2im: each output channel's plane gathers its own rows of the columns.
        columns.withUnsafeBufferPointer { cp in
          out.withUnsafeMutableBufferPointer { op in
            offsets.withUnsafeBufferPointer { fp in
              guard let cb = cp.baseAddress, let ob = op.baseAddress, let fb = fp.baseAddress else { return }
              Parallel.chunks(mPerGroup, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, kernelSize * inSize))) { range in
                for m in range {
                  let target = ob + (n * filters + g * mPerGroup + m) * outSize
                  for k in 0..<kernelSize {
                    let row = cb + (m * kernelSize + k) * inSize, window = fb + k * inSize
                    for i in 0..<inSize {
                      let offset = window[i]
                      if offset >= 0 { target[offset] += row[i] }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    if let bias { Convolution.addChannelBias(bias, to: &out, batch: batch, filters: filters, size: outSize) }
    return .float(out, [batch, filters] + outputSpatial, dtype: x.dtype)
  }
}
