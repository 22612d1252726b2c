import AttncTensor
import CAttnc

/// `Conv` and `ConvTranspose` of one group on attnc's packed GEMM (the `PackedConvolution` op).
///
/// The filter is the product's A operand, stored at conversion as rows: `Conv`'s `W [M, C·K]`
/// as it is, `ConvTranspose`'s `W [C, M·K]` transposed to `[M·K, C]`; float32, or rounded to
/// bfloat16 pairs (`[rows, ⌈depth/2⌉]` 32-bit elements, half the bytes). The im2col columns
/// (`Conv`) are the B operand, packed per call at the same precision on the threads; the rest
/// (im2col, bias) is `Convolution`'s. `ConvTranspose` runs as one convolution per output phase
/// (`ConvTransposePhases`), or, for bfloat16 rows of an odd channel count, as GEMM + col2im
/// (`TransposedConvolution`).
public enum ConvolutionGemm {
  /// The product's A dims for a weight of `weightShape`: rows (M, or M·K transposed) and depth
  /// (C·K, or C transposed).
  public static func productDims(weightShape: [Int], transposed: Bool) -> (rows: Int, depth: Int) {
    let kernelPoints = weightShape.dropFirst(2).reduce(1, *)
    return transposed
      ? (weightShape[1] * kernelPoints, weightShape[0]) : (weightShape[0], weightShape[1] * kernelPoints)
  }

  /// The stored rows' shape: `[rows, depth]` floats, or `[rows, ⌈depth/2⌉]` bfloat16 pairs.
  public static func packedShape(weightShape: [Int], transposed: Bool, precision: LinearPrecision) -> [Int] {
    let (rows, depth) = productDims(weightShape: weightShape, transposed: transposed)
    return [rows, precision == .bfloat16 ? (depth + 1) / 2 : depth]
  }

  /// The rows of `w` (row-major, of `weightShape`) at `precision`, as the elements of a float
  /// tensor of `packedShape` (bfloat16 pairs carried bit for bit).
  public static func weightRows(_ w: UnsafePointer<Float>, weightShape: [Int], transposed: Bool, precision: LinearPrecision)
    -> [Float]
  {
    let (rows, depth) = productDims(weightShape: weightShape, transposed: transposed)
    var floats = [Float](unsafeUninitializedCapacity: rows * depth) { buffer, count in
      if transposed {
        // [C, M·K] → [M·K, C]
        for r in 0..<rows { for t in 0..<depth { buffer[r * depth + t] = w[t * rows + r] } }
      } else {
        buffer.baseAddress!.update(from: w, count: rows * depth)
      }
      count = rows * depth
    }
    guard precision == .bfloat16 else { return floats }
    let units = (depth + 1) / 2
    var words = [UInt32](repeating: 0, count: rows * units)
    floats.withUnsafeMutableBufferPointer { source in
      words.withUnsafeMutableBufferPointer { attnc_gemm_bf16_round_rows(source.baseAddress!, rows, depth, depth, $0.baseAddress!) }
    }
    return words.map { Float(bitPattern: $0) }
  }

  /// `c [m, n] = A [m, k] · b [k, n]` with A the stored rows at `precision` and b packed here.
  static func multiply(
    rows a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, m: Int, n: Int, k: Int, precision: LinearPrecision,
    into c: UnsafeMutablePointer<Float>
  ) {
    let packed = pack(k: k, n: n, precision: precision, from: b)
    packed.withUnsafeBufferPointer { multiply(rows: a, packed: $0.baseAddress!, m: m, n: n, k: k, precision: precision, into: c) }
  }

  /// Row-major `b [k, n]` packed for the GEMM at `precision` (`attnc_gemm_pack` or
  /// `attnc_gemm_bf16_pack` layout, 32-bit words), ranges of 16 rows (even, as bfloat16 pairs
  /// need) on the threads, read in place.
  static func pack(k: Int, n: Int, precision: LinearPrecision, from b: UnsafePointer<Float>) -> [UInt32] {
    let words = precision == .bfloat16 ? attnc_gemm_bf16_packed_words(k, n) : attnc_gemm_packed_floats(k, n)
    let group = 16, groups = (k + group - 1) / group
    return [UInt32](unsafeUninitializedCapacity: words) { buffer, count in
      let packed = buffer.baseAddress!
      Parallel.chunks(groups, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, group * n))) { range in
        for g in range {
          let first = g * group
          packRows(b + first * n, first: first, count: min(group, k - first), k: k, n: n, precision: precision, into: packed)
        }
      }
      count = words
    }
  }

  /// Rows `first ..< first + count` of B (`rows`, row-major `count × n`) into their panels.
  static func packRows(
    _ rows: UnsafePointer<Float>, first: Int, count: Int, k: Int, n: Int, precision: LinearPrecision,
    into packed: UnsafeMutablePointer<UInt32>
  ) {
    if precision == .bfloat16 {
      attnc_gemm_bf16_pack_rows(rows, first, count, k, n, packed)
    } else {
      attnc_gemm_pack_rows(rows, first, count, k, n, UnsafeMutableRawPointer(packed).assumingMemoryBound(to: Float.self))
    }
  }

  /// `c [m, n] = A [m, k] · B` with A the stored rows and B as `pack` wrote it, at `precision`.
  static func multiply(
    rows a: UnsafePointer<Float>, packed b: UnsafePointer<UInt32>, m: Int, n: Int, k: Int, precision: LinearPrecision,
    into c: UnsafeMutablePointer<Float>
  ) {
    PackedGemm.run(call(rows: a, packed: b, m: m, n: n, k: k, precision: precision, into: c))
  }

  /// The GEMM call `c [m, n] = A [m, k] · B` (`multiply`), for a caller that runs its parts.
  static func call(
    rows a: UnsafePointer<Float>, packed b: UnsafePointer<UInt32>, m: Int, n: Int, k: Int, precision: LinearPrecision,
    into c: UnsafeMutablePointer<Float>
  ) -> attnc_gemm {
    var call = attnc_gemm()
    call.a = UnsafeRawPointer(a)
    call.packed_b = UnsafeRawPointer(b)
    call.c = c
    (call.m, call.n, call.k, call.alpha) = (m, n, k, 1)
    call.kernels = InstructionSets.widest.rawValue
    call.precision = Int32(precision == .bfloat16 ? ATTNC_GEMM_BFLOAT16 : ATTNC_GEMM_FLOAT32)
    return call
  }


  /// `Conv` (`window.group` 1) of `x [N, C, D…]` with the filter of `weightShape` (`[M, C, K…]`),
  /// or `ConvTranspose` (`[C, M, K…]`), stored as `rows`, then `Relu` when `relu`.
  /// - Throws: shapes that do not fit.
  public static func run(
    _ x: Tensor, rows: Tensor, weightShape: [Int], transposed: Bool, bias: Tensor?, window: ConvolutionWindow,
    precision: LinearPrecision, relu: Bool = false
  ) throws -> Tensor {
    try check(x, rows: rows, weightShape: weightShape, transposed: transposed, precision: precision, group: window.group)
    let y = try rows.floats.withUnsafeBufferPointer { a in
      let a = a.baseAddress!
      if !transposed {
        return try Convolution.conv(x, weightShape: weightShape, bias: bias, window: window) { _, m, n, k, columns, out in
          multiply(rows: a, columns, m: m, n: n, k: k, precision: precision, into: out)
        }
      }
      if ConvTransposePhases.applies(channels: weightShape[0], precision: precision) {
        // The phases apply the Relu as they store.
        return ConvTransposePhases.run(
          x, rows: a, weightShape: weightShape, bias: bias, window: window, precision: precision,
          activation: Int32(relu ? ATTNC_EPILOGUE_RELU : ATTNC_EPILOGUE_NONE))
      }
      return try TransposedConvolution.convTranspose(x, weightShape: weightShape, bias: bias, window: window) {
        _, m, n, k, input, columns in
        multiply(rows: a, input, m: m, n: n, k: k, precision: precision, into: columns)
      }
    }
    guard relu, !(transposed && ConvTransposePhases.applies(channels: weightShape[0], precision: precision)) else { return y }
    return .float(y.floats.map { $0 < 0 ? 0 : $0 }, y.shape, dtype: y.dtype)
  }


  static func check(
    _ x: Tensor, rows: Tensor, weightShape: [Int], transposed: Bool, precision: LinearPrecision, group: Int
  ) throws {
    let channels = transposed ? weightShape.first : weightShape.dropFirst().first
    guard group == 1, x.isFloat, x.rank == weightShape.count, x.rank >= 3, x.shape[1] == channels,
      rows.shape == packedShape(weightShape: weightShape, transposed: transposed, precision: precision)
    else {
      throw AttncError.invalid(
        "PackedConvolution: X \(x.shape) does not fit the \(precision.rawValue) rows \(rows.shape) of weight \(weightShape)")
    }
  }
}
