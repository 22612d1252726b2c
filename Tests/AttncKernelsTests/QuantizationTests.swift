import AttncKernels
import AttncTensor
import Foundation
import Testing

/// The element-wise quantization kernels (`Quantization`) against the ONNX formulas written out
/// element by element: per tensor, per axis and blocked parameters, rounding half to even,
/// saturation, NaN, and the narrow types.
@Suite struct QuantizationTests {
  /// `saturate(round(x / s) + z)` for one element, NaN to the low end.
  static func quantized(_ x: Float, _ s: Float, _ z: Int64, _ range: ClosedRange<Int64>) -> Int64 {
    let q = x / s
    if q.isNaN { return range.lowerBound }
    let r = q.rounded(.toNearestOrEven)
    if r.isInfinite { return r > 0 ? range.upperBound : range.lowerBound }
    return min(max(Int64(max(min(r, 1e18), -1e18)) + z, range.lowerBound), range.upperBound)
  }

  @Test func roundsHalfToEvenAndSaturates() throws {
    let x: [Float] = [0.5, 1.5, 2.5, -0.5, -1.5, 126.5, 127.5, 1000, -1000, .infinity, -.infinity, .nan, 0]
    for (dtype, zero) in [(DType.uint8, Int64(3)), (.int8, -3), (.int16, 100), (.uint16, 7), (.int4, 1), (.uint4, 2), (.int2, 0), (.uint2, 1)] {
      let y = try Quantization.quantize(
        .float(x, [x.count]), scale: .float([1], []), zeroPoint: .int([zero], [], dtype: dtype), axis: 1, blockSize: 0,
        to: dtype, saturate: true, precision: nil)
      let range = Quantization.integerRange(dtype)!
      #expect(y.dtype == dtype)
      #expect(y.ints == x.map { Self.quantized($0, 1, zero, range) }, "\(dtype)")
    }
  }

  /// Per axis 1 of `[2, 3, 2]` and blocks of 2 along axis 2 of `[2, 3, 5]` (a partial last
  /// block), quantized and dequantized element by element.
  @Test func perAxisAndBlockedParameters() throws {
    let x = (0..<12).map { Float($0) * 0.37 - 2 }
    let scales: [Float] = [0.1, 0.25, 0.5], zeros: [Int64] = [10, 0, -4]
    let y = try Quantization.quantize(
      .float(x, [2, 3, 2]), scale: .float(scales, [3]), zeroPoint: .int(zeros, [3], dtype: .int8), axis: 1,
      blockSize: 0, to: .int8, saturate: true, precision: nil)
    var expected: [Int64] = []
    var dequantized: [Float] = []
    for e in 0..<12 {
      let channel = (e / 2) % 3
      let q = Self.quantized(x[e], scales[channel], zeros[channel], -128...127)
      expected.append(q)
      dequantized.append(Float(q - zeros[channel]) * scales[channel])
    }
    #expect(y.ints == expected)
    let back = try Quantization.dequantize(
      y, scale: .float(scales, [3]), zeroPoint: .int(zeros, [3], dtype: .int8), axis: -2, blockSize: 0, to: .float)
    #expect(back.floats.map { $0 } == dequantized)

    let values = (0..<30).map { Int64($0 % 16) }
    let blockScales = (0..<18).map { Float($0 + 1) * 0.125 }
    let blocked = try Quantization.dequantize(
      .int(values, [2, 3, 5], dtype: .uint8), scale: .float(blockScales, [2, 3, 3]), zeroPoint: nil, axis: 2,
      blockSize: 2, to: .float)
    var blockExpected: [Float] = []
    for e in 0..<30 {
      let block = (e / 5) * 3 + (e % 5) / 2
      blockExpected.append(Float(values[e]) * blockScales[block])
    }
    #expect(blocked.floats.map { $0 } == blockExpected)
  }

  @Test func refusesParametersThatDoNotFit() {
    let x = Tensor.float([1, 2, 3, 4, 5, 6], [2, 3])
    let cases: [(Tensor, Int, Int)] = [
      (.float([1, 2], [2]), 1, 0),  // 2 scales for an axis of 3
      (.float([1, 2, 3], [3]), 0, 0),  // axis 0 has 2
      (.float([1, 2], [2, 1]), 1, 2),  // blocks of 2 over 3 need 2 along axis 1
      (.float([1, 2, 3], [3]), 5, 0),  // axis out of range
    ]
    for (scale, axis, block) in cases {
      #expect(throws: AttncError.self, "scale \(scale.shape) axis \(axis) block \(block)") {
        try Quantization.dequantize(
          .int([1, 2, 3, 4, 5, 6], [2, 3], dtype: .int8), scale: scale, zeroPoint: nil, axis: axis, blockSize: block, to: .float)
      }
    }
    #expect(throws: AttncError.self) {
      try Quantization.quantize(
        x, scale: .float([1], []), zeroPoint: .int([1, 2], [2], dtype: .uint8), axis: 1, blockSize: 0, to: .uint8,
        saturate: true, precision: nil)
    }
  }

  /// float8 and float4 targets: `x / s + z` rounded to the format, saturating or not.
  @Test func narrowFloatTargets() throws {
    let x: [Float] = [0.1, 3.3, 500, -1e6, .nan]
    for dtype in [DType.float8e4m3fn, .float8e5m2, .float4e2m1] {
      for saturate in [true, false] {
        let y = try Quantization.quantize(
          .float(x, [5]), scale: .float([0.5], []), zeroPoint: nil, axis: 1, blockSize: 0, to: dtype, saturate: saturate,
          precision: nil)
        let expected = x.map { Float(NarrowFloat.rounded(Double($0 / 0.5), to: dtype, saturate: saturate)) }
        #expect(zip(y.floats, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(dtype) saturate \(saturate)")
      }
    }
  }

  /// In float16 precision the operands and the quotient are rounded to float16 first.
  @Test func float16Precision() throws {
    let x: [Float] = [1000.3, 2.0009765, -7.77]
    let y = try Quantization.quantize(
      .float(x, [3], dtype: .float16), scale: .float([0.3], [], dtype: .float16), zeroPoint: .int([0], [], dtype: .int16),
      axis: 1, blockSize: 0, to: .int16, saturate: true, precision: .float16)
    let half = NarrowFloatArithmetic(.float16)!
    #expect(y.ints == x.map { Int64(half.rounded(half.rounded($0) / half.rounded(0.3)).rounded(.toNearestOrEven)) })
  }

  /// DynamicQuantizeLinear: the range widened to 0, NaN skipped and quantized to 0, an all-zero
  /// tensor at scale 1, the same rounding as QuantizeLinear.
  @Test func dynamicQuantization() throws {
    for x: [Float] in [[1, -2, 3, 0.25], [2.5, 1.5, 0.5, -0.5, 255], [0, 0, 0], [1, .nan, -2, 3], [3, 4, 5], [-3, -4]] {
      let outputs = try Quantization.dynamicQuantize(.float(x, [x.count]))
      let finite = x.filter { !$0.isNaN }
      let low = min(finite.min() ?? 0, 0), high = max(finite.max() ?? 0, 0)
      let scale: Float = high == low ? 1 : (high - low) / 255
      let zero = Int64(max(0, min(255, 0 - low / scale)).rounded(.toNearestOrEven))
      #expect(outputs[1].floats[0] == scale && outputs[2].ints == [zero], "\(x)")
      #expect(outputs[0].ints == x.map { Self.quantized($0, scale, zero, 0...255) }, "\(x)")
      #expect(outputs[0].dtype == .uint8 && outputs[1].shape == [] && outputs[2].dtype == .uint8)
    }
  }
}
