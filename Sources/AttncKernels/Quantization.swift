import AttncTensor
import CAttnc

/// The element-wise quantization ops: ONNX `QuantizeLinear`, `DequantizeLinear` and
/// `DynamicQuantizeLinear`, with their scale and zero point per tensor, per axis or per block.
public enum Quantization {
  /// Which scale (and zero point) each element of a tensor uses: one for all (a scalar or a
  /// one-element scale), one per index of `axis` (a 1-D scale), or one per block of `blockSize`
  /// indices along `axis` (a scale of the input's rank, `⌈D/blockSize⌉` along the axis).
  ///
  /// Elements walk as `outer × D × inner` around the axis; `index(o, d, i)` is the scale's flat
  /// index.
  public struct Granularity: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case tensor, axis, blocked(Int) }
    public var kind: Kind
    public var outer: Int
    public var extent: Int
    public var inner: Int
    /// Scale entries along the axis (blocked: ⌈extent / block⌉).
    public var steps: Int

    /// The granularity of `scale` (dims `scaleShape`) over an input of dims `shape`.
    /// - Throws: "scale [3] does not fit input [2, 4] on axis 1", naming what does not fit.
    public init(shape: [Int], scaleShape: [Int], axis: Int, blockSize: Int) throws {
      let count = scaleShape.reduce(1, *)
      guard blockSize >= 0 else { throw AttncError.invalid("block_size \(blockSize) is negative") }
      if blockSize == 0 && count == 1 && scaleShape.count <= 1 {
        self.init(kind: .tensor, outer: 1, extent: shape.reduce(1, *), inner: 1, steps: 1)
        return
      }
      guard !shape.isEmpty else {
        throw AttncError.invalid("scale \(scaleShape) is not a scalar, but the input is one")
      }
      let axis = try Shapes.normalize(axis: axis, rank: shape.count)
      let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
      let extent = shape[axis]
      if blockSize == 0 {
        guard scaleShape.count == 1, scaleShape[0] == extent else {
          throw AttncError.invalid(
            "scale \(scaleShape) is neither a scalar nor a 1-D tensor of input \(shape)'s \(extent) elements along axis \(axis)")
        }
        self.init(kind: .axis, outer: outer, extent: extent, inner: inner, steps: extent)
        return
      }
      let steps = (extent + blockSize - 1) / blockSize
      var expected = shape
      expected[axis] = steps
      guard scaleShape == expected else {
        throw AttncError.invalid(
          "blocked scale \(scaleShape) does not fit input \(shape) with block_size \(blockSize) on axis \(axis): expected \(expected)")
      }
      self.init(kind: .blocked(blockSize), outer: outer, extent: extent, inner: inner, steps: steps)
    }

    init(kind: Kind, outer: Int, extent: Int, inner: Int, steps: Int) {
      self.kind = kind
      self.outer = outer
      self.extent = extent
      self.inner = inner
      self.steps = steps
    }

    /// Calls `body(element, parameter)` for every element in order with its scale's flat index.
    @inline(__always) func forEach(_ body: (Int, Int) -> Void) {
      switch kind {
      case .tensor:
        for e in 0..<(outer * extent * inner) { body(e, 0) }
      case .axis:
        var e = 0
        for _ in 0..<outer {
          for d in 0..<extent {
            for _ in 0..<inner {
              body(e, d)
              e += 1
            }
          }
        }
      case .blocked(let block):
        var e = 0
        for o in 0..<outer {
          for d in 0..<extent {
            let base = (o * steps + d / block) * inner
            for i in 0..<inner {
              body(e, base + i)
              e += 1
            }
          }
        }
      }
    }
  }

  /// The saturation range of an integer quantized type.
  public static func integerRange(_ dtype: DType) -> ClosedRange<Int64>? {
    switch dtype {
    case .uint8: 0...255
    case .int8: -128...127
    case .uint16: 0...65535
    case .int16: -32768...32767
    case .uint4: 0...15
    case .int4: -8...7
    case .uint2: 0...3
    case .int2: -2...1
    default: nil
    }
  }

  /// The types QuantizeLinear writes (and DequantizeLinear reads, with int32).
  public static func isQuantizedType(_ dtype: DType) -> Bool {
    integerRange(dtype) != nil || NarrowFloat.covers(dtype) && dtype != .float8e8m0
  }

  /// `x` as floats (integer inputs converted).
  static func values(_ x: Tensor) -> [Float] { x.isFloat ? x.floats.owned : x.ints.map { Float($0) } }

  /// ONNX `QuantizeLinear`: `y = saturate(round(x / scale) + zero_point)` for integer `dtype`
  /// (rounding half to even; NaN saturates to the low end, as ONNX Runtime's kernels give), and
  /// `y = cast(x / scale + zero_point)` for the narrow float types (with `saturate`).
  ///
  /// The division runs in `precision` (float16 and bfloat16 round the operands and the
  /// quotient), else in float32.
  /// - Throws: a scale or zero point that does not fit the input (`Granularity`), or of
  ///   different shapes.
  public static func quantize(
    _ x: Tensor, scale: Tensor, zeroPoint: Tensor?, axis: Int, blockSize: Int, to dtype: DType, saturate: Bool,
    precision: DType?
  ) throws -> Tensor {
    let layout = try Granularity(shape: x.shape, scaleShape: scale.shape, axis: axis, blockSize: blockSize)
    if let zeroPoint, zeroPoint.shape.reduce(1, *) != scale.count {
      throw AttncError.invalid("zero point \(zeroPoint.shape) and scale \(scale.shape) differ in shape")
    }
    let input = values(x), scales = values(scale)
    let zeros = zeroPoint.map(values) ?? [Float](repeating: 0, count: scales.count)
    let narrow = precision.flatMap(NarrowFloatArithmetic.init)
    @inline(__always) func quotient(_ e: Int, _ p: Int) -> Float {
      guard let narrow else { return input[e] / scales[p] }
      return narrow.rounded(narrow.rounded(input[e]) / narrow.rounded(scales[p]))
    }
    if let range = integerRange(dtype) {
      var out = [Int64](repeating: 0, count: input.count)
      layout.forEach { e, p in
        let zero = zeros[p]
        let low = Float(range.lowerBound) - zero, high = Float(range.upperBound) - zero
        var q = quotient(e, p)
        q = q > low ? q : low
        q = q < high ? q : high
        out[e] = Int64(q.rounded(.toNearestOrEven)) + Int64(zero)
      }
      return .int(out, x.shape, dtype: dtype)
    }
    guard NarrowFloat.covers(dtype), dtype != .float8e8m0 else {
      throw AttncError.unsupported("QuantizeLinear to \(dtype) is not supported")
    }
    var out = [Float](repeating: 0, count: input.count)
    layout.forEach { e, p in
      out[e] = Float(NarrowFloat.rounded(Double(quotient(e, p) + zeros[p]), to: dtype, saturate: saturate))
    }
    return .float(out, x.shape, dtype: dtype)
  }

  /// ONNX `DequantizeLinear`: `y = (x − zero_point) · scale`, computed in float32 and returned
  /// as `dtype` (the caller's output type; narrow floats are rounded once, at the end).
  /// - Throws: a scale or zero point that does not fit the input, or of a different shape.
  public static func dequantize(
    _ x: Tensor, scale: Tensor, zeroPoint: Tensor?, axis: Int, blockSize: Int, to dtype: DType
  ) throws -> Tensor {
    let layout = try Granularity(shape: x.shape, scaleShape: scale.shape, axis: axis, blockSize: blockSize)
    if let zeroPoint, zeroPoint.shape.reduce(1, *) != scale.count {
      throw AttncError.invalid("zero point \(zeroPoint.shape) and scale \(scale.shape) differ in shape")
    }
    let input = values(x), scales = values(scale)
    let zeros = zeroPoint.map(values)
    var out = [Float](repeating: 0, count: input.count)
    if let zeros {
      layout.forEach { e, p in out[e] = (input[e] - zeros[p]) * scales[p] }
    } else {
      layout.forEach { e, p in out[e] = input[e] * scales[p] }
    }
    return .float(out, x.shape, dtype: dtype)
  }

  /// The parameters ONNX `DynamicQuantizeLinear` gives a tensor whose elements span
  /// `[minimum, maximum]` (NaN elements skipped): the range widened to include 0,
  /// `scale = (max − min) / 255` and `zero = round(clamp(−min / scale, 0, 255))` (half to even).
  /// An all-zero (or empty) range gives scale 1 and zero 0, as ONNX Runtime does (the ONNX
  /// formula would divide by zero).
  public static func dynamicParameters(minimum: Float, maximum: Float) -> (scale: Float, zero: Int32) {
    let low = min(minimum, 0), high = max(maximum, 0)
    let scale: Float = high == low ? 1 : (high - low) / 255
    let initial = 0 - low / scale
    let clamped = max(0, min(255, initial))
    return (scale, Int32(clamped.rounded(.toNearestOrEven)))
  }

  /// The smallest and largest elements of `x` (NaN skipped), over the threads.
  public static func range(_ x: UnsafeBufferPointer<Float>) -> (minimum: Float, maximum: Float) {
    guard let base = x.baseAddress, x.count > 0 else { return (.infinity, -.infinity) }
    let count = x.count
    let parts = Parallel.isInsideLoop ? 1 : max(1, min(Parallel.threads, count / Parallel.elementsPerChunk))
    var bounds = [Float](repeating: 0, count: 2 * parts)
    bounds.withUnsafeMutableBufferPointer { bounds in
      let target = bounds.baseAddress!
      Parallel.run(parts: parts) { part in
        let start = count * part / parts, end = count * (part + 1) / parts
        attnc_min_max(base + start, end - start, target + 2 * part, target + 2 * part + 1)
      }
    }
    let lows = stride(from: 0, to: 2 * parts, by: 2).map { bounds[$0] }
    let highs = stride(from: 1, to: 2 * parts, by: 2).map { bounds[$0] }
    return (lows.min() ?? .infinity, highs.max() ?? -.infinity)
  }

  /// ONNX `DynamicQuantizeLinear`: `[y (uint8), y_scale (float32 scalar), y_zero_point (uint8
  /// scalar)]`, with `dynamicParameters` and `QuantizeLinear`'s rounding.
  /// - Throws: a non-float32 input.
  public static func dynamicQuantize(_ x: Tensor) throws -> [Tensor] {
    guard x.dtype == .float else {
      throw AttncError.invalid("DynamicQuantizeLinear takes float32, got \(x.dtype)")
    }
    let count = x.count
    var bytes = [UInt8](repeating: 0, count: count)
    let parameters = x.floats.withUnsafeBufferPointer { source -> (scale: Float, zero: Int32) in
      let (low, high) = range(source)
      let parameters = dynamicParameters(minimum: low, maximum: high)
      bytes.withUnsafeMutableBufferPointer { target in
        guard let input = source.baseAddress, let output = target.baseAddress else { return }
        attnc_quantize_rows_u8(input, 1, count, count, parameters.scale, parameters.zero, output, count, nil)
      }
      return parameters
    }
    return [
      .int(bytes.map { Int64($0) }, x.shape, dtype: .uint8), .float([parameters.scale], []),
      .int([Int64(parameters.zero)], [], dtype: .uint8),
    ]
  }
}
