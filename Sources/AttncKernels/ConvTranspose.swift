import AttncTensor

/// `ConvTranspose` by GEMM + col2im, per batch and group.
///
/// With `X [N, C, D…]`, `W [C, M/group, K…]`: per group `g`, the columns
/// `cols[(m, k), i] = Σ_c W[c, m, k] · X[n, c, i]` (one `gemm` with `Wᵀ`), then each column entry
/// is added into `Y[n, m, i·stride - pad_begin + k·dilation]` when that lies inside the output.
public enum TransposedConvolution {
  /// - Parameters: `padsBegin` per spatial axis (may be negative, which shifts the output right),
  ///   `outputSpatial` the output's spatial dims.
  public static func convTranspose(
    _ x: Tensor, _ w: Tensor, bias: Tensor?, strides: [Int], dilations: [Int], padsBegin: [Int],
    outputSpatial: [Int], group: Int
  ) throws -> Tensor {
    let spatial = x.rank - 2
    guard w.rank == x.rank, strides.count == spatial, dilations.count == spatial,
      padsBegin.count == spatial, outputSpatial.count == spatial
    else { throw AttncError.invalid("ConvTranspose parameters do not fit rank \(x.rank)") }
    let batch = x.shape[0], channels = x.shape[1]
    let cPerGroup = channels / group, mPerGroup = w.shape[1], filters = mPerGroup * group
    guard w.shape[0] == channels else {
      throw AttncError.invalid("W has \(w.shape[0]) input channels, X has \(channels)")
    }
    let kernel = Array(w.shape[2...])
    let inSpatial = Array(x.shape[2...])
    let kernelSize = kernel.reduce(1, *)
    let inSize = inSpatial.reduce(1, *)
    let outSize = outputSpatial.reduce(1, *)
    let rows = mPerGroup * kernelSize
    // For each (kernel offset, input position), the output offset or -1 (cropped away).
    let offsets = Convolution.windowOffsets(
      kernel: kernel, walk: inSpatial, target: outputSpatial, strides: strides, dilations: dilations, padsBegin: padsBegin)
    var columns = [Float](unsafeUninitializedCapacity: rows * inSize) { _, count in count = rows * inSize }
    var out = [Float](repeating: 0, count: batch * filters * outSize)
    for n in 0..<batch {
      for g in 0..<group {
        w.floats.withUnsafeBufferPointer { wp in
          x.floats.withUnsafeBufferPointer { xp in
            columns.withUnsafeMutableBufferPointer { cp in
              guard let wb = wp.baseAddress, let xb = xp.baseAddress, let cb = cp.baseAddress else { return }
              // cols [M/group·K, inSize] = W_gᵀ [M/group·K, C/group] · X_g [C/group, inSize]
              gemm(m: rows, n: inSize, k: cPerGroup, wb + g * cPerGroup * rows, transposeA: true,
                   xb + (n * channels + g * cPerGroup) * inSize, into: cb)
            }
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
