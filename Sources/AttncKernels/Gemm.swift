import COpenBLAS

/// Row-major single-precision GEMM through OpenBLAS: `c = alpha·op(a)·op(b) + beta·c` with
/// `op(a)` of `m×k` and `op(b)` of `k×n`.
///
/// With more than one thread (and outside a parallel loop), a product of at least
/// `splitVolume` multiply-adds is split over attnc's threads (`Parallel`), each running OpenBLAS
/// on one thread: by columns of `c` when `m ≤ n` (each part packs all of `a` — the smaller —
/// and its own columns of `b`), else by rows.
///
/// The only call site of `cblas_sgemm`: sizes are checked here once (a mismatch is a broken
/// internal invariant, not a user error, and traps).
///
/// - Parameter finish: called with each block of `c` (its rows and columns) once the block is
///   computed, on the thread that computed it, while it is in cache (a fused epilogue).
public func gemm(
  m: Int, n: Int, k: Int, alpha: Float = 1, _ a: UnsafePointer<Float>, transposeA: Bool = false,
  _ b: UnsafePointer<Float>, transposeB: Bool = false, beta: Float = 0,
  into c: UnsafeMutablePointer<Float>, finish: ((_ rows: Range<Int>, _ columns: Range<Int>) -> Void)? = nil
) {
  guard m > 0, n > 0 else { return }
  guard blasint(exactly: m) != nil, blasint(exactly: n) != nil, blasint(exactly: max(k, 1)) != nil
  else { preconditionFailure("gemm dimension exceeds blasint") }
  if k == 0 {
    for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
    finish?(0..<m, 0..<n)
    return
  }
  let lda = transposeA ? m : k, ldb = transposeB ? k : n
  /// The product's rows `rows` and columns `columns`.
  func block(rows: Range<Int>, columns: Range<Int>) {
    let first = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
    let top = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      blasint(rows.count), blasint(columns.count), blasint(k), alpha, first, blasint(lda), top, blasint(ldb), beta,
      c + rows.lowerBound * n + columns.lowerBound, blasint(n))
    finish?(rows, columns)
  }
  let parts = gemmParts(m: m, n: n, k: k)
  guard parts.count > 1 else { return block(rows: 0..<m, columns: 0..<n) }
  Parallel.run(parts: parts.count) { part in
    let range = parts.bounds(part)
    if parts.byColumns { block(rows: 0..<m, columns: range) } else { block(rows: range, columns: 0..<n) }
  }
}

/// How `gemm` splits an `m×k · k×n` product over the threads.
struct GemmParts {
  var count: Int
  var byColumns: Bool
  /// The length being split (n or m) and the multiple every boundary falls on.
  var length: Int
  var step: Int

  /// Part `p`'s rows or columns.
  func bounds(_ p: Int) -> Range<Int> {
    func edge(_ i: Int) -> Int { i == count ? length : min(length, (length * i / count + step / 2) / step * step) }
    return edge(p)..<edge(p + 1)
  }
}

/// Multiply-adds below which a product stays on one thread (about 5 µs of work: a region's
/// start and end cost a few µs).
let splitVolume = 1 << 18

/// Column boundaries fall on multiples of 16 (OpenBLAS's AVX-512 sgemm kernel computes 16 columns
/// of a row-major product at a time), row boundaries on multiples of 8.
func gemmParts(m: Int, n: Int, k: Int) -> GemmParts {
  let byColumns = m <= n
  let (length, step) = byColumns ? (n, 16) : (m, 8)
  let threads = Parallel.isInsideLoop ? 1 : Parallel.threads
  let count = m * n * k < splitVolume ? 1 : min(threads, max(1, length / (2 * step)))
  return GemmParts(count: count, byColumns: byColumns, length: length, step: step)
}

/// Sets the number of threads OpenBLAS uses. `Parallel.configure` sets it to one; a caller
/// running several plans at once on its own threads may give each GEMM more.
public func setBLASThreads(_ count: Int) {
  openblas_set_num_threads(Int32(max(1, count)))
}
