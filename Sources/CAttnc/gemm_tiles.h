#ifndef ATTNC_GEMM_TILES_H
#define ATTNC_GEMM_TILES_H

#include "attnc_epilogue.h"

/* Pieces the register-blocked tile kernels share (packed_gemm.c, quantized_gemm.c,
 * attention_tile.c).
 *
 * A tile routine takes its row count as a constant, so that each count gets its own unrolled
 * code with the rows' accumulators in registers, and its caller switches from the run-time count
 * (1 ≤ rows ≤ the strip) to it: ATTNC_ROW_CASES_n(ROWS) expands to ROWS(n) … ROWS(1), where the
 * caller's ROWS(r) is `case r: …; break;`. */
#define ATTNC_ROW_CASES_4(ROWS) ROWS(4) ROWS(3) ROWS(2) ROWS(1)
#define ATTNC_ROW_CASES_6(ROWS) ROWS(6) ROWS(5) ATTNC_ROW_CASES_4(ROWS)
#define ATTNC_ROW_CASES_12(ROWS) ROWS(12) ROWS(11) ROWS(10) ROWS(9) ROWS(8) ROWS(7) ATTNC_ROW_CASES_6(ROWS)

/* `switch (rows)` calling kernel(n, arguments…) with the constant n for rows 1…6 (or 1…12): a
 * strip function's whole body. */
#define ATTNC_ROW_CALL_(n, kernel, ...) case n: kernel(n, __VA_ARGS__); break;
#define ATTNC_ROW_DISPATCH_6(rows, kernel, ...)                                                              \
  switch (rows) {                                                                                            \
    ATTNC_ROW_CALL_(6, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(5, kernel, __VA_ARGS__)                          \
    ATTNC_ROW_CALL_(4, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(3, kernel, __VA_ARGS__)                          \
    ATTNC_ROW_CALL_(2, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(1, kernel, __VA_ARGS__)                          \
  }
#define ATTNC_ROW_DISPATCH_12(rows, kernel, ...)                                                             \
  switch (rows) {                                                                                            \
    ATTNC_ROW_CALL_(12, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(11, kernel, __VA_ARGS__)                        \
    ATTNC_ROW_CALL_(10, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(9, kernel, __VA_ARGS__)                         \
    ATTNC_ROW_CALL_(8, kernel, __VA_ARGS__) ATTNC_ROW_CALL_(7, kernel, __VA_ARGS__)                          \
    default: ATTNC_ROW_DISPATCH_6(rows, kernel, __VA_ARGS__)                                                 \
  }

/* The strip dispatch the GEMM tile kernels share: the row count (1…12) and one or two 16-wide
 * column vectors chosen at run time, each case a call of ATTNC_TILE_KERNEL(n, vectors), which the
 * including function defines (and undefines after) to its own row kernel with its arguments. */
#define ATTNC_TILE_ROW_CASE(n)                                     \
  case n:                                                          \
    if (attnc_tile_wide_) ATTNC_TILE_KERNEL(n, 2);                 \
    else ATTNC_TILE_KERNEL(n, 1);                                  \
    break;
#define ATTNC_TILE_SWITCH_12(rows, wide)                                       \
  do {                                                                         \
    const int attnc_tile_wide_ = (wide);                                       \
    switch (rows) { ATTNC_ROW_CASES_12(ATTNC_TILE_ROW_CASE) }                  \
  } while (0)

#if defined(__x86_64__)
#include <immintrin.h>

/* Columns j… of row i of an epilogue addend (attnc_addend): its one value of row i broadcast
 * (column_stride 0), or the row's columns under `mask`. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) __m256
addend_avx2(const attnc_addend *d, long i, long j, __m256i mask) {
  if (d->column_stride == 0) return _mm256_broadcast_ss(d->values + i * d->row_stride);
  return _mm256_maskload_ps(d->values + i * d->row_stride + j, mask);
}

/* The AVX2 product tile: acc[r][0..1] = Σ_{t<depth} a[r·lda + t] · panel[16·t … 16·t + 15] for
 * r < rows (at most 6, a constant after inlining), panel one packed panel of 16 columns. A GEMM
 * tile against packed weights and a Q·Kᵀ strip against packed keys are both this. */
__attribute__((target("avx2,fma"))) static inline __attribute__((always_inline)) void
panel_product_avx2(int rows, const float *a, long lda, const float *panel, long depth, __m256 acc[][2]) {
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (long t = 0; t < depth; t++) {
    __m256 b0 = _mm256_loadu_ps(panel + t * 16), b1 = _mm256_loadu_ps(panel + t * 16 + 8);
    for (int r = 0; r < rows; r++) {
      __m256 x = _mm256_broadcast_ss(a + r * lda + t);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
}

__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline)) __m512
addend_avx512(const attnc_addend *d, long i, long j, __mmask16 mask) {
  if (d->column_stride == 0) return _mm512_set1_ps(d->values[i * d->row_stride]);
  return _mm512_maskz_loadu_ps(mask, d->values + i * d->row_stride + j);
}
#endif

#endif
