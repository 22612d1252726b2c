import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS: `c = alpha·op(a)·op(b) + beta·c` with
/// `op(a)` of `m×k` and `op(b)` of `k×n`.
///
/// The only call site of `cblas_sgemm`: sizes are checked here once (a mismatch is a broken
/// internal invariant, not a user error, and traps).
public func gemm(
  m: Int, n: Int, k: Int, alpha: Float = 1, _ a: UnsafePointer<Float>, transposeA: Bool = false,
  _ b: UnsafePointer<Float>, transposeB: Bool = false, beta: Float = 0,
  into c: UnsafeMutablePointer<Float>
) {
  guard m > 0, n > 0 else { return }
  guard let m32 = blasint(exactly: m), let n32 = blasint(exactly: n), let k32 = blasint(exactly: max(k, 1))
  else { preconditionFailure("gemm dimension exceeds blasint") }
  if k == 0 {
    for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
    return
  }
  let lda = transposeA ? m32 : k32
  let ldb = transposeB ? k32 : n32
  cblas_sgemm(
    CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
    m32, n32, k32, alpha, a, lda, b, ldb, beta, c, n32)
}

/// Sets the number of threads OpenBLAS uses (call once, before running).
public func setBLASThreads(_ count: Int) {
  openblas_set_num_threads(Int32(max(1, count)))
}
