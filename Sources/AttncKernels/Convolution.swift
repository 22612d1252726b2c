import AttncTensor

/// N-D convolution by im2col + GEMM, per batch and group.
public enum Convolution {
  /// `Conv(x, w, b)` with explicit begin/end pads, strides, dilations and groups.
  /// x `[N, C, D…]`, w `[M, C/group, K…]` → `[N, M, O…]`.
  public static func conv(
    _ x: Tensor, _ w: Tensor, bias: Tensor?, strides: [Int], dilations: [Int], padsBegin: [Int],
    outputSpatial: [Int], group: Int
  ) throws -> Tensor {
    let batch = x.shape[0], channels = x.shape[1], filters = w.shape[0]
    let kernel = Array(w.shape[2...])
    let inSpatial = Array(x.shape[2...])
    let cPerGroup = channels / group, mPerGroup = filters / group
    let kernelSize = kernel.reduce(1, *)
    let outSize = outputSpatial.reduce(1, *)
    let inSize = inSpatial.reduce(1, *)
    let rows = cPerGroup * kernelSize
    var columns = [Float](repeating: 0, count: rows * outSize)
    var out = [Float](repeating: 0, count: batch * filters * outSize)
    // For each (kernel offset, output position), the input offset or -1 (padding).
    let offsets = windowOffsets(
      kernel: kernel, walk: outputSpatial, target: inSpatial, strides: strides, dilations: dilations, padsBegin: padsBegin)
    for n in 0..<batch {
      for g in 0..<group {
        let image = (n * channels + g * cPerGroup) * inSize
        forEachWindowElement(channels: cPerGroup, kernelSize: kernelSize, positions: outSize, offsets: offsets) { c, column, offset in
          columns[column] = offset < 0 ? 0 : x.floats[image + c * inSize + offset]
        }
        w.floats.withUnsafeBufferPointer { wp in
          columns.withUnsafeBufferPointer { cp in
            out.withUnsafeMutableBufferPointer { op in
              guard let wb = wp.baseAddress, let cb = cp.baseAddress, let ob = op.baseAddress else { return }
              gemm(m: mPerGroup, n: outSize, k: rows, wb + g * mPerGroup * rows, cb,
                   into: ob + (n * filters + g * mPerGroup) * outSize)
            }
          }
        }
      }
    }
    if let bias { addChannelBias(&out, bias, channels: filters, size: outSize) }
    return .float(out, [batch, filters] + outputSpatial, dtype: x.dtype)
  }

  /// Walks the window table of one image and `channels` channels of a group: for channel `c`,
  /// kernel offset `k` and position `p`, the column element `(c·K + k)·P + p` and its offset
  /// `offsets[k·P + p]` in channel `c` of the image (−1: outside it). im2col reads the image
  /// there; the transposed convolution adds the columns into it.
  @inline(__always)
  static func forEachWindowElement(
    channels: Int, kernelSize: Int, positions: Int, offsets: [Int], _ body: (_ channel: Int, _ column: Int, _ offset: Int) -> Void
  ) {
    for c in 0..<channels {
      for k in 0..<kernelSize {
        let row = (c * kernelSize + k) * positions
        for p in 0..<positions { body(c, row + p, offsets[k * positions + p]) }
      }
    }
  }

  /// Adds `bias[m]` to every element of channel `m` of `[N, channels, size]` values.
  static func addChannelBias(_ out: inout [Float], _ bias: Tensor, channels: Int, size: Int) {
    for start in stride(from: 0, to: out.count, by: max(size, 1)) {
      let b = bias.floats[start / max(size, 1) % channels]
      for o in start..<(start + size) { out[o] += b }
    }
  }

  /// The im2col table shared by Conv and ConvTranspose: for kernel offset `k` and position `p`
  /// of `walk`, the row-major offset in `target` of `p·stride − padBegin + k·dilation` per
  /// spatial axis, or -1 where that falls outside `target` (padding, or cropped away).
  /// Entry `k · |walk| + p`.
  static func windowOffsets(
    kernel: [Int], walk: [Int], target: [Int], strides: [Int], dilations: [Int], padsBegin: [Int]
  ) -> [Int] {
    let spatial = kernel.count
    let kernelSize = kernel.reduce(1, *), walkSize = walk.reduce(1, *)
    let targetStrides = rowMajorStrides(target)
    var offsets = [Int](repeating: -1, count: kernelSize * walkSize)
    for k in 0..<kernelSize {
      var kIndex = [Int](repeating: 0, count: spatial)
      var rest = k
      for axis in stride(from: spatial - 1, through: 0, by: -1) { kIndex[axis] = rest % kernel[axis]; rest /= kernel[axis] }
      for w in 0..<walkSize {
        var wRest = w
        var offset = 0
        var inside = true
        for axis in stride(from: spatial - 1, through: 0, by: -1) {
          let wi = wRest % walk[axis]
          wRest /= walk[axis]
          let position = wi * strides[axis] - padsBegin[axis] + kIndex[axis] * dilations[axis]
          if position < 0 || position >= target[axis] { inside = false; break }
          offset += position * targetStrides[axis]
        }
        if inside { offsets[k * walkSize + w] = offset }
      }
    }
    return offsets
  }
}
