import AttncTensor

/// The quantized-output products: ONNX `QLinearMatMul`, `ConvInteger` and `QLinearConv`.
extension QuantizedGemm {
  /// `saturate(round(acc · multiplier) + zero)` in `range`, rounding half to even in float64
  /// (as the ONNX reference computes it); NaN goes to the low end.
  @inline(__always) static func requantize(_ acc: Int64, _ multiplier: Double, zero: Int64, _ range: ClosedRange<Int64>)
    -> Int64
  {
    var v = (Double(acc) * multiplier + Double(zero)).rounded(.toNearestOrEven)
    v = v > Double(range.lowerBound) ? v : Double(range.lowerBound)
    return Int64(min(v, Double(range.upperBound)))
  }

  /// The requantization multiplier `a_scale · b_scale / y_scale` in the scales' precision.
  @inline(__always) static func multiplier(_ a: Float, _ b: Float, _ y: Float, _ narrow: NarrowFloatArithmetic?) -> Double {
    guard let narrow else { return Double(a * b / y) }
    return Double(narrow.rounded(narrow.rounded(a * b) / y))
  }

  /// The 8-bit integer range of a QLinear output type.
  static func outputRange(_ dtype: DType, op: String) throws -> ClosedRange<Int64> {
    guard dtype == .int8 || dtype == .uint8, let range = Quantization.integerRange(dtype) else {
      throw AttncError.unsupported("\(op) with \(dtype) operands is not supported (int8 and uint8 are)")
    }
    return range
  }

  /// ONNX `QLinearMatMul`: `y = saturate(round((a − a_zero)(b − b_zero) · a_scale · b_scale /
  /// y_scale) + y_zero)`, the scales and zero points per tensor, per row of A, per column of B.
  /// - Throws: as `matMulInteger`; scales that do not fit; float8 operands (unsupported).
  public static func qlinearMatMul(
    _ a: Tensor, aScale: Tensor, aZero: Tensor, _ b: Tensor, bScale: Tensor, bZero: Tensor, yScale: Tensor,
    yZero: Tensor, kernels: InstructionSets = .widest
  ) throws -> Tensor {
    let range = try outputRange(yZero.dtype, op: "QLinearMatMul")
    _ = try outputRange(a.dtype, op: "QLinearMatMul")
    _ = try outputRange(b.dtype, op: "QLinearMatMul")
    guard yScale.count == 1, yZero.count == 1 else {
      throw AttncError.invalid("QLinearMatMul: y_scale \(yScale.shape) and y_zero_point \(yZero.shape) must be scalars")
    }
    let acc = try matMulInteger(a, b, aZero: aZero, bZero: bZero, kernels: kernels)
    let (m, _, n, aBatches, bBatches, batchShape, operands) = try productLayout(a.shape, b.shape)
    let aScales = try perIndex(
      aScale.floats.owned, shape: aScale.shape, count: m, batches: aBatches, along: "row", what: "a_scale")
    let bScales = try perIndex(
      bScale.floats.owned, shape: bScale.shape, count: n, batches: bBatches, along: "column", what: "b_scale")
    let narrow = NarrowFloatArithmetic(aScale.dtype)
    let y = yScale.floats[0], zero = yZero.ints[0]
    var out = [Int64](repeating: 0, count: acc.count)
    let batches = batchShape.reduce(1, *)
    for batch in 0..<batches {
      let aBatch = operands[0][batch], bBatch = operands[1][batch]
      for i in 0..<m {
        let scale = aScales.value(aBatch, i)
        for j in 0..<n {
          let e = (batch * m + i) * n + j
          out[e] = requantize(acc.ints[e], multiplier(scale, bScales.value(bBatch, j), y, narrow), zero: zero, range)
        }
      }
    }
    return .int(out, acc.shape, dtype: yZero.dtype)
  }

  /// ONNX `ConvInteger`: the convolution of `x − x_zero` (scalar) with `w − w_zero` (scalar or
  /// one per output channel) as int32, padding with `x_zero` (a difference of 0). Each group is
  /// one integer product, W's rows times the input's im2col columns.
  /// - Throws: non-8-bit operands, zero points of the wrong type or shape.
  public static func convInteger(
    _ x: Tensor, _ w: Tensor, xZero: Tensor?, wZero: Tensor?, window: ConvolutionWindow, kernels: InstructionSets = .widest
  ) throws -> Tensor {
    let (group, outputSpatial) = (window.group, window.outputSpatial)
    for (name, t) in [("x", x), ("w", w)] where t.dtype != .int8 && t.dtype != .uint8 {
      throw AttncError.invalid("ConvInteger input '\(name)' must be int8 or uint8, got \(t.dtype)")
    }
    for (name, zero, t) in [("x_zero_point", xZero, x), ("w_zero_point", wZero, w)] {
      if let zero, zero.dtype != t.dtype { throw AttncError.invalid("\(name) is \(zero.dtype) but its tensor is \(t.dtype)") }
    }
    guard x.rank >= 3, w.rank == x.rank, group >= 1, x.shape[1] == w.shape[1] * group, w.shape[0] % group == 0 else {
      throw AttncError.invalid("ConvInteger: x \(x.shape) and w \(w.shape) do not fit group \(group)")
    }
    guard xZero.map({ $0.count == 1 }) ?? true else {
      throw AttncError.invalid("ConvInteger: x_zero_point \(xZero?.shape ?? []) must be a scalar")
    }
    let batch = x.shape[0], channels = x.shape[1], filters = w.shape[0]
    let kernel = Array(w.shape[2...]), inSpatial = Array(x.shape[2...])
    let cPerGroup = channels / group, mPerGroup = filters / group
    let kernelSize = kernel.reduce(1, *), outSize = outputSpatial.reduce(1, *), inSize = inSpatial.reduce(1, *)
    let depth = cPerGroup * kernelSize
    let filterZeros = try perIndex(
      wZero?.ints ?? [0], shape: wZero?.shape ?? [], count: filters, batches: 1, along: "output channel",
      what: "w_zero_point")
    // W as A (rows: output channels), shifted to unsigned; the im2col columns as B, signed.
    let wShift: Int64 = w.dtype == .int8 ? 128 : 0, xShift: Int64 = x.dtype == .uint8 ? -128 : 0
    let xz = (xZero?.ints.first ?? 0) + xShift
    let offsets = Convolution.windowOffsets(kernel: kernel, walk: outputSpatial, target: inSpatial, window: window)
    let lda = depthStride(depth)
    var out = [Int32](repeating: 0, count: batch * filters * outSize)
    var columns = [Int8](repeating: 0, count: depth * outSize)
    for g in 0..<group {
      var rows = [UInt8](repeating: 0, count: mPerGroup * lda)
      var sums = [Int32](repeating: 0, count: mPerGroup)
      for r in 0..<mPerGroup {
        for t in 0..<depth {
          let v = UInt8(truncatingIfNeeded: w.ints[(g * mPerGroup + r) * depth + t] + wShift)
          rows[r * lda + t] = v
          sums[r] &+= Int32(v)
        }
      }
      let za = (0..<mPerGroup).map { Int32(truncatingIfNeeded: filterZeros.value(0, g * mPerGroup + $0) + wShift) }
      for image in 0..<batch {
        // im2col of the shifted input: rows (c, k), columns o; the padding holds x's zero point.
        for ck in 0..<depth {
          let (c, k) = ck.quotientAndRemainder(dividingBy: kernelSize)
          let base = (image * channels + g * cPerGroup + c) * inSize
          for o in 0..<outSize {
            let offset = offsets[k * outSize + o]
            columns[ck * outSize + o] = Int8(truncatingIfNeeded: offset < 0 ? xz : x.ints[base + offset] + xShift)
          }
        }
        let packed = pack(columns, k: depth, n: outSize)
        out.withUnsafeMutableBufferPointer { out in
          multiply(
            rows: rows, lda: lda, sums: sums, packed: packed, aZeros: za, bZeros: [Int32(truncatingIfNeeded: xz)],
            m: mPerGroup, n: outSize, k: depth, into: out.baseAddress! + (image * filters + g * mPerGroup) * outSize,
            kernels: kernels)
        }
      }
    }
    return .int(out.map { Int64($0) }, [batch, filters] + outputSpatial, dtype: .int32)
  }

  /// ONNX `QLinearConv`: `ConvInteger` plus the int32 bias, requantized per output channel by
  /// `x_scale · w_scale[m] / y_scale` to `y_zero_point`'s type.
  /// - Throws: as `convInteger`; scales or bias that do not fit.
  public static func qlinearConv(
    _ x: Tensor, xScale: Tensor, xZero: Tensor, _ w: Tensor, wScale: Tensor, wZero: Tensor, yScale: Tensor,
    yZero: Tensor, bias: Tensor?, window: ConvolutionWindow, kernels: InstructionSets = .widest
  ) throws -> Tensor {
    let outputSpatial = window.outputSpatial
    let range = try outputRange(yZero.dtype, op: "QLinearConv")
    guard xScale.count == 1, yScale.count == 1, yZero.count == 1 else {
      throw AttncError.invalid("QLinearConv: x_scale, y_scale and y_zero_point must be scalars")
    }
    let acc = try convInteger(x, w, xZero: xZero, wZero: wZero, window: window, kernels: kernels)
    let filters = w.shape[0], outSize = outputSpatial.reduce(1, *)
    let scales = try perIndex(
      wScale.floats.owned, shape: wScale.shape, count: filters, batches: 1, along: "output channel", what: "w_scale")
    if let bias, bias.count != filters {
      throw AttncError.invalid("QLinearConv: bias \(bias.shape) is not one per output channel (\(filters))")
    }
    let narrow = NarrowFloatArithmetic(xScale.dtype)
    let y = yScale.floats[0], zero = yZero.ints[0]
    var out = [Int64](repeating: 0, count: acc.count)
    for e in 0..<acc.count {
      let m = (e / outSize) % filters
      let sum = Int64(Int32(truncatingIfNeeded: acc.ints[e] &+ (bias?.ints[m] ?? 0)))
      out[e] = requantize(sum, multiplier(xScale.floats[0], scales.value(0, m), y, narrow), zero: zero, range)
    }
    return .int(out, acc.shape, dtype: yZero.dtype)
  }
}
