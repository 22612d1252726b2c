import AttncTensor
import Foundation

/// float16 and bfloat16 arithmetic the way the ONNX reference computes it (numpy, with ml_dtypes
/// for bfloat16): each elementary operation widens its operands to Float32, computes, and rounds
/// the result to the narrow type (nearest even) before the next one reads it.
///
/// Reductions differ by type: a bfloat16 sum rounds after every addition (ml_dtypes' add loop),
/// a float16 sum accumulates in Float32 and rounds once (numpy's half reduction). A matrix
/// product accumulates in Float32 and rounds once for both.
public struct NarrowFloatArithmetic: Sendable {
  public let dtype: DType

  /// The arithmetic of `dtype`; nil for types computed in Float32 or wider as they are.
  public init?(_ dtype: DType) {
    guard dtype == .float16 || dtype == .bfloat16 else { return nil }
    self.dtype = dtype
  }

  /// `x` rounded to the nearest value of the type (ties to even; NaN stays NaN).
  @inline(__always) public func rounded(_ x: Float) -> Float {
    if dtype == .bfloat16 { return Float(bitPattern: UInt32(Element.floatToBFloat16(x)) << 16) }
    return Element.halfToFloat(Element.floatToHalf(x))
  }

  /// The running sum `total + x` as the type's reduction keeps it; `rounded(total)` at the end
  /// gives the sum.
  @inline(__always) public func accumulated(_ total: Float, _ x: Float) -> Float {
    dtype == .bfloat16 ? rounded(total + x) : total + x
  }

  /// Softmax of the `count` elements `row[0], row[stride], …` in place, each step rounded:
  /// `d = r(x − max)`, `e = r(exp d)`, `s` their sum (`accumulated`), `y = r(e / s)`. A row of
  /// all −inf gives NaN, as the unfused ONNX definition does.
  public func softmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int, stride: Int = 1) {
    guard count > 0 else { return }
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, row[i * stride]) }
    var total: Float = 0
    for i in 0..<count {
      let e = rounded(Foundation.exp(rounded(row[i * stride] - maximum)))
      row[i * stride] = e
      total = accumulated(total, e)
    }
    let sum = rounded(total)
    for i in 0..<count { row[i * stride] = rounded(row[i * stride] / sum) }
  }

  /// ONNX `Softmax` over `axis` of a tensor of this type, rounded step by step (`softmaxRow`).
  /// `coerce2D` applies the opset < 13 form (all axes from `axis` on form one row).
  /// - Throws: "axis A is out of range for rank R".
  public func softmax(_ x: Tensor, axis: Int, coerce2D: Bool = false) throws -> Tensor {
    let a = try normalizedAxis(axis, rank: x.rank)
    let outer = x.shape[..<a].reduce(1, *)
    let length = coerce2D ? x.shape[a...].reduce(1, *) : x.shape[a]
    let inner = coerce2D ? 1 : x.shape[(a + 1)...].reduce(1, *)
    var out = x.floats
    out.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      for o in 0..<outer {
        for s in 0..<inner {
          softmaxRow(base + o * length * inner + s, count: length, stride: inner)
        }
      }
    }
    return .float(out, x.shape, dtype: x.dtype)
  }
}
