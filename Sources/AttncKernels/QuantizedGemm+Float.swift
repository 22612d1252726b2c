import AttncTensor
import CAttnc

/// Products of quantized operands with float results: `Y = (A − a_zero)(B − b_zero) · a_scale ·
/// b_scale[j]`, then `alpha`, the addends and the activation, as `PackedGemm`'s epilogue.
extension QuantizedGemm {
  /// The scale and zero points of B: one for all columns or one per column.
  public struct WeightQuantization {
    /// `[1]` or `[n]`.
    public var scales: [Float]
    /// `[1]` or `[n]`, already in the kernel's signed range (uint8 weights shifted by −128);
    /// nil when every zero point is 0.
    public var zeros: [Int32]?

    public init(scales: [Float], zeros: [Int32]?) {
      self.scales = scales
      self.zeros = zeros.flatMap { $0.allSatisfy { $0 == 0 } ? nil : $0 }
    }

    /// From the op's tensors: `scale` a float scalar or `[n]`; `zero` (the weight's type) a
    /// scalar or `[n]`, shifted by `shift`.
    /// - Throws: a scale or zero point that is neither one value nor one per column.
    public init(scale: Tensor, zero: Tensor?, columns n: Int, shift: Int64, op: String) throws {
      guard scale.isFloat, scale.count == 1 || (scale.count == n && scale.rank == 1) else {
        throw AttncError.invalid("\(op): B's scale \(scale.shape) is neither a scalar nor one per column (\(n))")
      }
      if let zero, !(zero.count == 1 || (zero.count == n && zero.rank == 1)) || zero.isFloat {
        throw AttncError.invalid("\(op): B's zero point \(zero.dtype)\(zero.shape) is neither a scalar nor one per column (\(n))")
      }
      let zeros = zero.map { $0.ints.map { Int32(truncatingIfNeeded: $0 + shift) } } ?? (shift == 0 ? nil : [Int32(shift)])
      self.init(scales: scale.floats.owned, zeros: zeros)
    }
  }

  /// The dynamically quantized linear layer: A (float32, `[…, k]`) quantized per tensor to uint8
  /// exactly as ONNX `DynamicQuantizeLinear` does, times B packed at conversion, scaled to float
  /// by `a_scale · b_scale[j] · alpha`, plus up to two addends (bias, residual), then `activation`.
  ///
  /// Rows are split over the threads; each thread quantizes its own rows and multiplies them
  /// without waiting for the others (short inputs quantize first, then split by columns:
  /// `Parallel.product(preparing:)`).
  /// - Throws: shapes that do not fit, naming them.
  public static func dynamicProduct(
    _ a: Tensor, packed: Tensor, columns n: Int, weights: WeightQuantization, addends: [Tensor], alpha: Float,
    activation: String, kernels: InstructionSets = .widest, output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    guard a.dtype == .float, a.rank >= 1, let k = a.shape.last else {
      throw AttncError.invalid("dynamically quantized product: A must be float32 of rank ≥ 1, got \(a.dtype)\(a.shape)")
    }
    guard packed.isFloat, packed.rank == 1, packed.count * 4 == packedBytes(k: k, n: n) else {
      throw AttncError.invalid("dynamically quantized product: packed weight \(packed.shape) does not hold [\(k), \(n)]")
    }
    try checkColumns(weights, n)
    let rows = a.count / max(1, k)
    let shape = Array(a.shape.dropLast()) + [n]
    let (layouts, code) = try PackedGemm.epilogue(addends, shape: shape, activation: activation, op: "QuantizedMatMul")
    var out = output(rows * n)
    guard rows > 0, n > 0 else { return .float(out, shape, dtype: .float) }
    let lda = depthStride(k)
    var quantized = [UInt8](unsafeUninitializedCapacity: rows * lda) { _, count in count = rows * lda }
    var sums = [Int32](repeating: 0, count: rows)
    let parameters = a.floats.withUnsafeBufferPointer { x in
      let (low, high) = Quantization.range(x)
      return Quantization.dynamicParameters(minimum: low, maximum: high)
    }
    let zero = parameters.zero
    let inputs = [a.floats, packed.floats] + addends.map(\.floats)
    LinearAlgebra.withBaseAddresses(inputs[...], []) { bases in
      quantized.withUnsafeMutableBufferPointer { q in
        sums.withUnsafeMutableBufferPointer { sums in
          withWeights(weights, aZero: zero) { scales, zeros, zero in
            out.withUnsafeMutableBufferPointer { z in
              var call = call(
                Operands(
                  a: UnsafePointer(q.baseAddress!), lda: lda, rowSums: UnsafePointer(sums.baseAddress), aZero: zero,
                  aZeroStride: 0, packed: UnsafeRawPointer(bases[1]), bZero: zeros.isEmpty ? nil : zeros.baseAddress,
                  bZeroStride: zeros.count > 1 ? 1 : 0, m: rows, n: n, k: k),
                kernels: kernels)
              call.c = z.baseAddress!
              call.a_scale = parameters.scale
              call.b_scale = scales.baseAddress
              call.b_scale_stride = scales.count > 1 ? 1 : 0
              call.alpha = alpha
              call.activation = code
              call.addend_count = Int32(addends.count)
              call.addends = PackedGemm.addendSlots(layouts, bases.dropFirst(2))
              // Row sums only enter with B zero points (symmetric int8 weights have none).
              let source = bases[0], target = q.baseAddress!, rowSums = zeros.isEmpty ? nil : sums.baseAddress
              let quantize = { (range: Range<Int>) in
                attnc_quantize_rows_u8(
                  source + range.lowerBound * k, range.count, k, k, parameters.scale, parameters.zero,
                  target + range.lowerBound * lda, lda, rowSums.map { $0 + range.lowerBound })
              }
              withUnsafePointer(to: call) { call in
                Parallel.product(rows: rows, columns: n, depth: k, panel: panel, preparing: quantize) { rows, columns in
                  attnc_qgemm_run(call, rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound)
                }
              }
            }
          }
        }
      }
    }
    return .float(out, shape, dtype: .float)
  }

  /// `Y = float(acc) · (a_scale · b_scale[j]) + bias[j]` for an int32 product `acc` (`[…, n]`):
  /// `MatMulIntegerToFloat` and `DynamicQuantizeMatMul` on operands that are not a packed
  /// weight. `b_scale` and `bias` are one value or one per column.
  /// - Throws: a scale or bias that is neither.
  public static func scaled(_ acc: Tensor, aScale: Float, bScale: Tensor, bias: Tensor?, op: String) throws -> Tensor {
    let n = acc.shape.last ?? 1
    guard bScale.isFloat, bScale.count == 1 || bScale.count == n else {
      throw AttncError.invalid("\(op): b_scale \(bScale.shape) is neither a scalar nor one per column (\(n))")
    }
    if let bias, !bias.isFloat || bias.count != n {
      throw AttncError.invalid("\(op): bias \(bias.dtype)\(bias.shape) is not \(n) floats")
    }
    let scales = (0..<n).map { aScale * bScale.floats[bScale.count == 1 ? 0 : $0] }
    var out = [Float](repeating: 0, count: acc.count)
    for e in 0..<acc.count {
      let j = e % n
      out[e] = Float(Int32(truncatingIfNeeded: acc.ints[e])) * scales[j]
      if let bias { out[e] += bias.floats[j] }
    }
    return .float(out, acc.shape)
  }

  /// Throws unless the weights' scales and zero points are one or `n`.
  static func checkColumns(_ weights: WeightQuantization, _ n: Int) throws {
    guard weights.scales.count == 1 || weights.scales.count == n,
      weights.zeros.map({ $0.count == 1 || $0.count == n }) ?? true
    else {
      throw AttncError.invalid("quantized product: \(weights.scales.count) scales for \(n) columns")
    }
  }

  /// The scales and zero points of B (an empty buffer for none) and A's zero point as pointers.
  static func withWeights<R>(
    _ weights: WeightQuantization, aZero: Int32,
    _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Int32>, UnsafePointer<Int32>) -> R
  ) -> R {
    weights.scales.withUnsafeBufferPointer { scales in
      (weights.zeros ?? []).withUnsafeBufferPointer { zeros in
        withUnsafePointer(to: aZero) { zero in body(scales, zeros, zero) }
      }
    }
  }
}
