import AttncTensor
import CAttnc

/// The precision of a linear layer's operands on attnc's packed GEMM.
///
/// `bfloat16`: the weight is rounded to bfloat16 (nearest, ties to even) when it is packed at
/// conversion, A's rows when the call rounds them, and the products are summed in float32
/// (AVX-512 BF16 `vdpbf16ps` where the machine has it, plain C on the same rounded operands
/// elsewhere). Half the weight bytes; on this machine's kernels about twice the float32 rate.
public enum LinearPrecision: String, Sendable, Codable, CaseIterable, KernelParameterValue {
  case float32 = "f32"
  case bfloat16 = "bf16"
}

extension PackedGemm {
  /// Whether bfloat16 products run on `vdpbf16ps` here (false without AVX-512 BF16, or with
  /// `ATTNC_GEMM_NO_BF16_DOT=1` in the environment, which forces the plain C path).
  public static var bfloat16UsesDot: Bool { attnc_gemm_bf16_uses_dot() != 0 }

  /// `v` rounded to bfloat16 and back (nearest, ties to even; subnormals to zero, as the
  /// hardware rounding does).
  public static func roundToBFloat16(_ v: Float) -> Float { Float(bitPattern: UInt32(attnc_bf16_round(v)) << 16) }

  /// Packs row-major `b [k, n]` as bfloat16 pairs into `packedShape(k:n:precision: .bfloat16)`
  /// 32-bit words at `packed`.
  public static func packBFloat16(_ b: UnsafePointer<Float>, k: Int, n: Int, into packed: UnsafeMutablePointer<UInt32>) {
    attnc_gemm_bf16_pack(b, k, n, packed)
  }

  /// Runs `call` (its A still float32 at `a`) on bfloat16 operands: A's rows are rounded into a
  /// scratch of ⌈k/2⌉ words per row as the threads reach them (`Parallel.product(preparing:)`).
  static func runBFloat16(_ call: attnc_gemm, a: UnsafePointer<Float>) {
    let rows = call.m, k = call.k, depth = (k + 1) / 2
    var rounded = [UInt32](unsafeUninitializedCapacity: rows * depth) { _, count in count = rows * depth }
    rounded.withUnsafeMutableBufferPointer { scratch in
      let target = scratch.baseAddress!
      var call = call
      call.a = UnsafeRawPointer(target)
      call.precision = Int32(ATTNC_GEMM_BFLOAT16)
      let round = { (range: Range<Int>) in
        attnc_gemm_bf16_round_rows(a + range.lowerBound * k, range.count, k, k, target + range.lowerBound * depth)
      }
      withUnsafePointer(to: call) { call in
        Parallel.product(rows: rows, columns: call.pointee.n, depth: k, panel: panel, preparing: round) { rows, columns in
          attnc_gemm_run(call, rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound)
        }
      }
    }
  }
}
