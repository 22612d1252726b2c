#include "attnc_packed_gemm.h"

#include "packed_gemm_tiles.h"

#include <string.h>

/* KC: depth per pass, so that the panels of one tile (KC × 32 floats, 32 KiB) stay in L1 while
 * the strips of a row block use them. MC: rows per block (their KC-deep slice of A, 480 KiB,
 * stays in L2 while every panel passes over it; the weights stream from memory once per block). */
enum { KC = 256, MC = 480 };

static long min_long(long a, long b) { return a < b ? a : b; }

long attnc_gemm_packed_floats(long k, long n) { return (n + W - 1) / W * W * k; }

void attnc_gemm_pack_rows(const float *rows, long first, long count, long k, long n, float *packed) {
  long panels = (n + W - 1) / W;
  /* Panel by panel, so that the rows of one panel are written together (they are adjacent). */
  for (long p = 0; p < panels; p++) {
    long width = min_long(W, n - p * W);
    for (long t = 0; t < count; t++) {
      float *out = packed + (p * k + first + t) * W;
      memcpy(out, rows + t * n + p * W, sizeof(float) * width);
      for (long c = width; c < W; c++) out[c] = 0;
    }
  }
}

void attnc_gemm_pack(const float *b, long k, long n, float *packed) { attnc_gemm_pack_rows(b, 0, k, k, n, packed); }

void attnc_gemm_unpack(const float *packed, long k, long n, float *b) {
  long panels = (n + W - 1) / W;
  for (long p = 0; p < panels; p++) {
    long width = min_long(W, n - p * W);
    for (long t = 0; t < k; t++) {
      const float *in = packed + (p * k + t) * W;
      for (long c = 0; c < width; c++) b[t * n + p * W + c] = in[c];
    }
  }
}

/* ---- plain C: 4 rows × 16 columns ---- */

enum { STRIP_PORTABLE = 4 };

static void tile_portable(const attnc_gemm *g, const gemm_tile *s, int rows, const void *a_, const void *panel_,
                          long kc) {
  const float *a = a_, *panel = panel_;
  float acc[STRIP_PORTABLE][W];
  memset(acc, 0, sizeof acc);
  for (long t = 0; t < kc; t++) {
    for (int r = 0; r < rows; r++) {
      float x = a[r * g->k + t];
      for (int c = 0; c < W; c++) acc[r][c] += x * panel[t * W + c];
    }
  }
  gemm_store_portable(g, s, rows, acc);
}

/* ---- AVX2: 6 rows × 16 columns ---- */

#ifdef ATTNC_X86
enum { STRIP_AVX2 = 6 };

ATTNC_AVX2 static ALWAYS_INLINE void tile_rows_avx2(int rows, const attnc_gemm *g, const gemm_tile *s, const float *a,
                                                     const float *panel, long kc) {
  __m256 acc[STRIP_AVX2][2];
  panel_product_avx2(rows, a, g->k, panel, kc, acc);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32((int)s->columns), lanes),
                     _mm256_cmpgt_epi32(_mm256_set1_epi32((int)s->columns - 8), lanes)};
  const __m256 alpha = _mm256_set1_ps(g->alpha);
  for (int r = 0; r < rows; r++) {
    long i = s->row + r;
    float *out = g->c + i * g->n + s->column;
    for (int v = 0; v < 2; v++) {
      __m256 x = acc[r][v];
      if (!s->first) x = _mm256_add_ps(x, _mm256_maskload_ps(out + 8 * v, mask[v]));
      if (s->last) {
        x = _mm256_mul_ps(x, alpha);
        for (int e = 0; e < g->addend_count; e++) x = _mm256_add_ps(x, addend_avx2(&g->addends[e], i, s->column + 8 * v, mask[v]));
      }
      _mm256_maskstore_ps(out + 8 * v, mask[v], x);
    }
  }
  gemm_activate(g, s, rows);
}

ATTNC_AVX2 static void tile_avx2(const attnc_gemm *g, const gemm_tile *s, int rows, const void *a_, const void *panel_,
                                 long kc) {
  const float *a = a_, *panel = panel_;
#define ROWS(n) \
  case n: tile_rows_avx2(n, g, s, a, panel, kc); break;
  switch (rows) { ATTNC_ROW_CASES_6(ROWS) }
#undef ROWS
}

/* ---- AVX-512: 12 rows × 32 columns (two panels) ---- */

enum { STRIP_AVX512 = 12 };

/* `vectors` (1 or 2) panels of 16 columns starting at `panel`. */
ATTNC_AVX512 static ALWAYS_INLINE void tile_rows_avx512(int rows, int vectors, const attnc_gemm *g, const gemm_tile *s,
                                                         const float *a, const float *panel, long kc) {
  const long lda = g->k;
  const float *second = panel + g->k * W;
  __m512 acc[STRIP_AVX512][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long t = 0; t < kc; t++) {
    gemm_prefetch_next(s, g->k, t);
    __m512 b0 = _mm512_loadu_ps(panel + t * W), b1 = _mm512_setzero_ps();
    if (vectors == 2) b1 = _mm512_loadu_ps(second + t * W);
    for (int r = 0; r < rows; r++) {
      __m512 x = _mm512_set1_ps(a[r * lda + t]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      if (vectors == 2) acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  gemm_store_avx512(g, s, rows, vectors, acc);
}

ATTNC_AVX512 static void tile_avx512(const attnc_gemm *g, const gemm_tile *s, int rows, const void *a_,
                                     const void *panel_, long kc) {
  const float *a = a_, *panel = panel_;
#define ATTNC_TILE_KERNEL(n, v) tile_rows_avx512(n, v, g, s, a, panel, kc)
  ATTNC_TILE_SWITCH_12(rows, s->columns > 16);
#undef ATTNC_TILE_KERNEL
}

#endif

/* ---- driver ---- */

static gemm_tile_kernels kernels_for(const attnc_gemm *g) {
  if (g->precision == ATTNC_GEMM_BFLOAT16) return attnc_gemm_bf16_kernels(g->kernels);
#ifdef ATTNC_X86
  if (g->kernels == ATTNC_GEMM_WIDEST && attnc_vector_math_uses_avx512())
    return (gemm_tile_kernels){STRIP_AVX512, 2 * W, tile_avx512};
  if (g->kernels != ATTNC_GEMM_PORTABLE && attnc_vector_math_uses_avx2())
    return (gemm_tile_kernels){STRIP_AVX2, W, tile_avx2};
#endif
  return (gemm_tile_kernels){STRIP_PORTABLE, W, tile_portable};
}

/* Blocks of MC rows; in each, depth passes of KC units; in each, tiles over the columns, and in
 * each column the strips of rows. Addresses count 4-byte depth units (floats or bfloat16 pairs). */
void attnc_gemm_run(const attnc_gemm *g, long row_begin, long row_end, long column_begin, long column_end) {
  const gemm_tile_kernels kernels = kernels_for(g);
  const long k = gemm_depth_units(g);
  const uint32_t *a = g->a, *packed = g->packed_b;
  for (long block = row_begin; block < row_end; block += MC) {
    const long block_end = min_long(block + MC, row_end);
    long depth = 0;
    do {
      const long kc = min_long(KC, k - depth);
      gemm_tile s = {0, 0, 0, depth == 0, depth + kc >= k, 0};
      for (long column = column_begin; column < column_end; column += kernels.width) {
        s.column = column;
        s.columns = min_long(kernels.width, column_end - column);
        const uint32_t *panel = packed + ((column / W) * k + depth) * W;
        for (long row = block; row < block_end; row += kernels.strip) {
          s.row = row;
          s.next = row == block && column + kernels.width < column_end ? panel + (kernels.width / W) * k * W : 0;
          int rows = (int)min_long(kernels.strip, block_end - row);
          kernels.tile(g, &s, rows, a + row * k + depth, panel, kc);
        }
      }
      depth += kc;
    } while (depth < k);
  }
}
