#ifndef ATTNC_PACKED_GEMM_TILES_H
#define ATTNC_PACKED_GEMM_TILES_H

/* What packed_gemm.c (float32 panels) and packed_gemm_bf16.c (bfloat16 pairs) share: a tile's
 * place in the call, the epilogue of a finished tile (alpha, addends, activation) and the table
 * of tile kernels that the one driver, attnc_gemm_run, walks. Internal to CAttnc. */

#include "attnc_packed_gemm.h"
#include "attnc_vector_math.h"
#include "gemm_tiles.h"

#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#define ATTNC_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { W = ATTNC_GEMM_PANEL };

/* One tile's place in the call: where it starts, and which depth pass this is. */
typedef struct {
  long row, column, columns; /* first row and column; columns ≤ the tile's width */
  int first, last;           /* first depth pass (C not read) / last (epilogue applied) */
  const void *next;          /* the next tile's panels at this depth, to prefetch (NULL: none) */
} gemm_tile;

/* A tile kernel: `rows` (≤ strip) rows of A from `a` (its depth units of 4 bytes: a float, or a
 * pair of bfloat16) times the panels from `panel`, over `kc` depth units. */
typedef void (*gemm_tile_kernel)(const attnc_gemm *, const gemm_tile *, int rows, const void *a, const void *panel,
                                 long kc);

typedef struct {
  int strip, width; /* rows and columns of one tile */
  gemm_tile_kernel tile;
} gemm_tile_kernels;

/* The bfloat16 tiles for an instruction-set limit (packed_gemm_bf16.c). */
__attribute__((visibility("hidden"))) gemm_tile_kernels attnc_gemm_bf16_kernels(int limit);

/* Depth units of 4 bytes per row of A and per panel row: k floats, or ⌈k/2⌉ bfloat16 pairs. */
static inline long gemm_depth_units(const attnc_gemm *g) {
  return g->precision == ATTNC_GEMM_BFLOAT16 ? (g->k + 1) / 2 : g->k;
}

/* The activation over the tile's rows, once the tile is stored. */
static ALWAYS_INLINE void gemm_activate(const attnc_gemm *g, const gemm_tile *s, int rows) {
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

/* Stores a plain-C tile's sums `acc` (rows × 16): added to C after the first depth pass, and on
 * the last scaled by alpha, given the addends and activated. */
static ALWAYS_INLINE void gemm_store_portable(const attnc_gemm *g, const gemm_tile *s, int rows, float acc[][W]) {
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
  gemm_activate(g, s, rows);
}

#ifdef ATTNC_X86
/* Prefetches depth unit t of the next tile's two panels (each `units` depth units deep). */
static ALWAYS_INLINE void gemm_prefetch_next(const gemm_tile *s, long units, long t) {
  const uint32_t *next = s->next;
  if (!next) return;
  _mm_prefetch((const char *)(next + t * W), _MM_HINT_T0);
  _mm_prefetch((const char *)(next + units * W + t * W), _MM_HINT_T0);
}

/* Stores an AVX-512 tile's sums `acc` (rows × `vectors` panels of 16), as gemm_store_portable. */
ATTNC_AVX512 static ALWAYS_INLINE void gemm_store_avx512(const attnc_gemm *g, const gemm_tile *s, int rows, int vectors,
                                                         __m512 acc[][2]) {
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
        for (int e = 0; e < g->addend_count; e++)
          x = _mm512_add_ps(x, addend_avx512(&g->addends[e], i, s->column + 16 * v, mask[v]));
      }
      _mm512_mask_storeu_ps(out + 16 * v, mask[v], x);
    }
  }
  gemm_activate(g, s, rows);
}
#endif

#endif
