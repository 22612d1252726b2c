#include "attnc_packed_gemm.h"

#include "attnc_vector_math.h"
#include "gemm_tiles.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#define ATTNC_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* KC: depth per pass, so that the panels of one tile (KC × 32 floats, 32 KiB) stay in L1 while
 * the strips of a row block use them. MC: rows per block (their KC-deep slice of A, 480 KiB,
 * stays in L2 while every panel passes over it; the weights stream from memory once per block). */
enum { W = ATTNC_GEMM_PANEL, KC = 256, MC = 480 };

static long min_long(long a, long b) { return a < b ? a : b; }

long attnc_gemm_packed_floats(long k, long n) { return (n + W - 1) / W * W * k; }

void attnc_gemm_pack(const float *b, long k, long n, float *packed) {
  long panels = (n + W - 1) / W;
  for (long p = 0; p < panels; p++) {
    for (long t = 0; t < k; t++) {
      float *out = packed + (p * k + t) * W;
      for (long c = 0; c < W; c++) {
        long column = p * W + c;
        out[c] = column < n ? b[t * n + column] : 0;
      }
    }
  }
}

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

/* One tile's place in the call: where it starts, and which depth pass this is. */
typedef struct {
  long row, column, columns; /* first row and column; columns ≤ the tile's width */
  int first, last;           /* first depth pass (C not read) / last (epilogue applied) */
  const float *next;         /* the next tile's panels at this depth, to prefetch (NULL: none) */
} tile;

/* The activation over the tile's rows, once the tile is stored. */
static ALWAYS_INLINE void activate(const attnc_gemm *g, const tile *s, int rows) {
  if (!s->last || g->activation == ATTNC_EPILOGUE_NONE) return;
  for (int r = 0; r < rows; r++) {
    float *out = g->c + (s->row + r) * g->n + s->column;
    if (g->activation == ATTNC_EPILOGUE_RELU) {
      for (long j = 0; j < s->columns; j++) out[j] = out[j] > 0 ? out[j] : 0;
    } else {
      attnc_gelu_limited(out, out, s->columns, g->activation == ATTNC_EPILOGUE_GELU_TANH, g->kernels);
    }
  }
}

/* ---- plain C: 4 rows × 16 columns ---- */

enum { STRIP_PORTABLE = 4 };

static void tile_portable(const attnc_gemm *g, const tile *s, int rows, const float *a, const float *panel, long kc) {
  float acc[STRIP_PORTABLE][W];
  memset(acc, 0, sizeof acc);
  for (long t = 0; t < kc; t++) {
    for (int r = 0; r < rows; r++) {
      float x = a[r * g->k + t];
      for (int c = 0; c < W; c++) acc[r][c] += x * panel[t * W + c];
    }
  }
  for (int r = 0; r < rows; r++) {
    long i = s->row + r;
    float *out = g->c + i * g->n + s->column;
    for (long c = 0; c < s->columns; c++) {
      float x = acc[r][c];
      if (!s->first) x += out[c];
      if (s->last) {
        x *= g->alpha;
        for (int e = 0; e < g->addend_count; e++) {
          const attnc_addend *d = &g->addends[e];
          x += d->values[i * d->row_stride + (s->column + c) * d->column_stride];
        }
      }
      out[c] = x;
    }
  }
  activate(g, s, rows);
}

/* ---- AVX2: 6 rows × 16 columns ---- */

#ifdef ATTNC_X86
enum { STRIP_AVX2 = 6 };

ATTNC_AVX2 static ALWAYS_INLINE void tile_rows_avx2(int rows, const attnc_gemm *g, const tile *s, const float *a,
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
  activate(g, s, rows);
}

ATTNC_AVX2 static void tile_avx2(const attnc_gemm *g, const tile *s, int rows, const float *a, const float *panel, long kc) {
#define ROWS(n) \
  case n: tile_rows_avx2(n, g, s, a, panel, kc); break;
  switch (rows) { ATTNC_ROW_CASES_6(ROWS) }
#undef ROWS
}

/* ---- AVX-512: 12 rows × 32 columns (two panels) ---- */

enum { STRIP_AVX512 = 12 };

/* `vectors` (1 or 2) panels of 16 columns starting at `panel`. */
ATTNC_AVX512 static ALWAYS_INLINE void tile_rows_avx512(int rows, int vectors, const attnc_gemm *g, const tile *s,
                                                         const float *a, const float *panel, long kc) {
  const long lda = g->k;
  const float *second = panel + g->k * W;
  __m512 acc[STRIP_AVX512][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float *next = s->next;
  for (long t = 0; t < kc; t++) {
    if (next) {
      _mm_prefetch((const char *)(next + t * W), _MM_HINT_T0);
      _mm_prefetch((const char *)(next + g->k * W + t * W), _MM_HINT_T0);
    }
    __m512 b0 = _mm512_loadu_ps(panel + t * W), b1 = _mm512_setzero_ps();
    if (vectors == 2) b1 = _mm512_loadu_ps(second + t * W);
    for (int r = 0; r < rows; r++) {
      __m512 x = _mm512_set1_ps(a[r * lda + t]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      if (vectors == 2) acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  long rest = s->columns;
  __mmask16 mask[2];
  mask[0] = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
  mask[1] = rest >= 32 ? (__mmask16)0xFFFF : rest > 16 ? (__mmask16)((1u << (rest - 16)) - 1) : 0;
  const __m512 alpha = _mm512_set1_ps(g->alpha);
  for (int r = 0; r < rows; r++) {
    long i = s->row + r;
    float *out = g->c + i * g->n + s->column;
    for (int v = 0; v < vectors; v++) {
      __m512 x = acc[r][v];
      if (!s->first) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], out + 16 * v));
      if (s->last) {
        x = _mm512_mul_ps(x, alpha);
        for (int e = 0; e < g->addend_count; e++) x = _mm512_add_ps(x, addend_avx512(&g->addends[e], i, s->column + 16 * v, mask[v]));
      }
      _mm512_mask_storeu_ps(out + 16 * v, mask[v], x);
    }
  }
  activate(g, s, rows);
}

ATTNC_AVX512 static void tile_avx512(const attnc_gemm *g, const tile *s, int rows, const float *a, const float *panel,
                                     long kc) {
#define ROWS(n)                                                              \
  case n:                                                                    \
    if (s->columns > 16) tile_rows_avx512(n, 2, g, s, a, panel, kc);         \
    else tile_rows_avx512(n, 1, g, s, a, panel, kc);                         \
    break;
  switch (rows) { ATTNC_ROW_CASES_12(ROWS) }
#undef ROWS
}

#endif

/* ---- driver ---- */

typedef struct {
  int strip, width; /* rows and columns of one tile */
  void (*tile)(const attnc_gemm *, const tile *, int, const float *, const float *, long);
} tile_kernels;

static tile_kernels kernels_for(int limit) {
#ifdef ATTNC_X86
  if (limit == ATTNC_GEMM_WIDEST && attnc_vector_math_uses_avx512()) return (tile_kernels){STRIP_AVX512, 2 * W, tile_avx512};
  if (limit != ATTNC_GEMM_PORTABLE && attnc_vector_math_uses_avx2()) return (tile_kernels){STRIP_AVX2, W, tile_avx2};
#endif
  return (tile_kernels){STRIP_PORTABLE, W, tile_portable};
}

void attnc_gemm_run(const attnc_gemm *g, long row_begin, long row_end, long column_begin, long column_end) {
  const tile_kernels kernels = kernels_for(g->kernels);
  const long k = g->k;
  for (long block = row_begin; block < row_end; block += MC) {
    const long block_end = min_long(block + MC, row_end);
    long depth = 0;
    do {
      const long kc = min_long(KC, k - depth);
      tile s = {0, 0, 0, depth == 0, depth + kc >= k, 0};
      for (long column = column_begin; column < column_end; column += kernels.width) {
        s.column = column;
        s.columns = min_long(kernels.width, column_end - column);
        const float *panel = g->packed_b + ((column / W) * k + depth) * W;
        for (long row = block; row < block_end; row += kernels.strip) {
          s.row = row;
          s.next = row == block && column + kernels.width < column_end ? panel + (kernels.width / W) * k * W : 0;
          int rows = (int)min_long(kernels.strip, block_end - row);
          kernels.tile(g, &s, rows, g->a + row * k + depth, panel, kc);
        }
      }
      depth += kc;
    } while (depth < k);
  }
}
