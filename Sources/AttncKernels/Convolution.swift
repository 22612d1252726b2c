import AttncTensor

/// Where a convolution's window goes in one call: per spatial axis its stride, dilation, padding
/// before the axis and the output's size; and the number of groups. `Conv`, `ConvTranspose`,
/// `ConvInteger`, `QLinearConv` and the packed convolutions all take it.
public struct ConvolutionWindow: Sendable, Equatable {
  public var strides: [Int]
  public var dilations: [Int]
  /// May be negative (`ConvTranspose`: the output shifted right).
  public var padsBegin: [Int]
  public var outputSpatial: [Int]
  public var group: Int

  public init(strides: [Int], dilations: [Int], padsBegin: [Int], outputSpatial: [Int], group: Int = 1) {
    (self.strides, self.dilations, self.padsBegin, self.outputSpatial, self.group) =
      (strides, dilations, padsBegin, outputSpatial, group)
  }
}

/// N-D convolution by im2col + GEMM, per batch and group.
public enum Convolution {
  /// `Conv(x, w, b)`: x `[N, C, D…]`, w `[M, C/group, K…]` → `[N, M, O…]`.
  public static func conv(_ x: Tensor, _ w: Tensor, bias: Tensor?, window: ConvolutionWindow) throws -> Tensor {
    try w.floats.withUnsafeBufferPointer { wp in
      try conv(x, weightShape: w.shape, bias: bias, window: window) { g, m, n, k, columns, out in
        gemm(m: m, n: n, k: k, wp.baseAddress! + g * m * k, columns, into: out)
      }
    }
  }

  /// `conv` with the product of each group's filter and its columns left to `product(g, m, n, k,
  /// columns, out)`: `out [m, n] = W_g [m, k] · columns [k, n]` (m = M/group, k = C/group·K,
  /// n = output positions). `weightShape` is W's `[M, C/group, K…]`.
  static func conv(
    _ x: Tensor, weightShape: [Int], bias: Tensor?, window: ConvolutionWindow,
    product: (_ group: Int, _ m: Int, _ n: Int, _ k: Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) throws -> Tensor {
    let (group, outputSpatial) = (window.group, window.outputSpatial)
    let batch = x.shape[0], channels = x.shape[1], filters = weightShape[0]
    let kernel = Array(weightShape[2...])
    let inSpatial = Array(x.shape[2...])
    let cPerGroup = channels / group, mPerGroup = filters / group
    let kernelSize = kernel.reduce(1, *)
    let outSize = outputSpatial.reduce(1, *)
    let inSize = inSpatial.reduce(1, *)
    let rows = cPerGroup * kernelSize
    var out = [Float](unsafeUninitializedCapacity: batch * filters * outSize) { _, count in count = batch * filters * outSize }
    // A 1×1 filter at stride 1 without padding reads the input planes as they are: no im2col.
    let pointwise = kernelSize == 1 && window.strides.allSatisfy { $0 == 1 } && window.padsBegin.allSatisfy { $0 == 0 }
      && outputSpatial == inSpatial
    // For each (kernel offset, output position), the input offset or -1 (padding).
    let offsets = pointwise ? [] : windowOffsets(kernel: kernel, walk: outputSpatial, target: inSpatial, window: window)
    let columnCount = pointwise ? 0 : rows * outSize
    var columns = [Float](unsafeUninitializedCapacity: columnCount) { _, count in count = columnCount }
    for n in 0..<batch {
      for g in 0..<group {
        if pointwise {
          x.floats.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
              guard let xb = xp.baseAddress, let ob = op.baseAddress else { return }
              product(
                g, mPerGroup, outSize, rows, xb + (n * channels + g * cPerGroup) * inSize, ob + (n * filters + g * mPerGroup) * outSize)
            }
          }
          continue
        }
        // im2col: columns[(c, k), o] = x[n, g·C/group + c, window(k, o)], 0 in the padding.
        x.floats.withUnsafeBufferPointer { xp in
          columns.withUnsafeMutableBufferPointer { cp in
            offsets.withUnsafeBufferPointer { op in
              guard let xb = xp.baseAddress, let cb = cp.baseAddress, let ob = op.baseAddress else { return }
              Parallel.chunks(cPerGroup * kernelSize, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, outSize))) { range in
                for ck in range {
                  let (c, k) = ck.quotientAndRemainder(dividingBy: kernelSize)
                  let source = xb + (n * channels + g * cPerGroup + c) * inSize
                  let target = cb + ck * outSize, window = ob + k * outSize
                  for o in 0..<outSize {
                    let offset = window[o]
                    target[o] = offset < 0 ? 0 : source[offset]
                  }
                }
              }
            }
          }
        }
        columns.withUnsafeBufferPointer { cp in
          out.withUnsafeMutableBufferPointer { op in
            guard let cb = cp.baseAddress, let ob = op.baseAddress else { return }
            product(g, mPerGroup, outSize, rows, cb, ob + (n * filters + g * mPerGroup) * outSize)
          }
        }
      }
    }
    if let bias { addChannelBias(bias, to: &out, batch: batch, filters: filters, size: outSize) }
    return .float(out, [batch, filters] + outputSpatial, dtype: x.dtype)
  }

  /// `out[n, m, o] += bias[m]` over `[batch, filters, size]`.
  static func addChannelBias(_ bias: Tensor, to out: inout [Float], batch: Int, filters: Int, size: Int) {
    bias.floats.withUnsafeBufferPointer { bp in
      out.withUnsafeMutableBufferPointer { op in
        guard let b = bp.baseAddress, let o = op.baseAddress else { return }
        for plane in 0..<(batch * filters) {
          let value = b[plane % filters], row = o + plane * size
          for i in 0..<size { row[i] += value }
        }
      }
    }
  }

  /// Fills `columns` (`[channels · kernelSize, outSize]`) with one image's group of channels:
  /// entry `(c·K + k, o)` is `element(start + c·inSize + offset)` for the window offset of
  /// kernel point k at output position o (`windowOffsets`), or `padding` outside the input.
  @inline(__always) static func im2col<T>(
    _ columns: inout [T], offsets: [Int], channels: Int, kernelSize: Int, outSize: Int, inSize: Int, start: Int,
    padding: T, element: (Int) -> T
  ) {
    for c in 0..<channels {
      let base = start + c * inSize
      for k in 0..<kernelSize {
        let row = (c * kernelSize + k) * outSize
        for o in 0..<outSize {
          let offset = offsets[k * outSize + o]
          columns[row + o] = offset < 0 ? padding : element(base + offset)
        }
      }
    }
  }

  /// The im2col table shared by Conv and ConvTranspose: for kernel offset `k` and position `p`
  /// of `walk`, the row-major offset in `target` of `p·stride − padBegin + k·dilation` per
  /// spatial axis, or -1 where that falls outside `target` (padding, or cropped away).
  /// Entry `k · |walk| + p`.
  static func windowOffsets(kernel: [Int], walk: [Int], target: [Int], window: ConvolutionWindow) -> [Int] {
    let (strides, dilations, padsBegin) = (window.strides, window.dilations, window.padsBegin)
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
