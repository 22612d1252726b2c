#include "attnc_quantized_gemm.h"

#include "attnc_vector_math.h"
#include "gemm_tiles.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#define ATTNC_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { W = ATTNC_QGEMM_PANEL, G = ATTNC_QGEMM_GROUP, PANEL_GROUP_BYTES = W * G };

static long min_long(long a, long b) { return a < b ? a : b; }

static long groups_of(long k) { return (k + G - 1) / G; }

long attnc_qgemm_depth_stride(long k) { return groups_of(k) * G; }

static long panels_of(long n) { return (n + W - 1) / W; }

static long panel_bytes(long k) { return groups_of(k) * PANEL_GROUP_BYTES; }

long attnc_qgemm_packed_bytes(long k, long n) {
  return panels_of(n) * panel_bytes(k) + panels_of(n) * W * (long)sizeof(int32_t);
}

/* The column sums stored after the panels. */
static const int32_t *column_sums(const void *packed, long k, long n) {
  return (const int32_t *)((const char *)packed + panels_of(n) * panel_bytes(k));
}

void attnc_qgemm_pack(const int8_t *b, long k, long n, void *packed) {
  int8_t *out = packed;
  const long panels = panels_of(n), groups = groups_of(k);
  int32_t *sums = (int32_t *)(out + panels * panel_bytes(k));
  for (long j = 0; j < panels * W; j++) sums[j] = 0;
  for (long p = 0; p < panels; p++) {
    for (long g = 0; g < groups; g++) {
      int8_t *block = out + p * panel_bytes(k) + g * PANEL_GROUP_BYTES;
      for (long c = 0; c < W; c++) {
        long column = p * W + c;
        for (long d = 0; d < G; d++) {
          long t = g * G + d;
          int8_t v = column < n && t < k ? b[t * n + column] : 0;
          block[c * G + d] = v;
          sums[column] += v;
        }
      }
    }
  }
}

/* ---- quantization of A ---- */

#ifdef ATTNC_X86
/* min/max_ps return their second operand when either is NaN: a NaN element never wins. */
ATTNC_AVX2 static long min_max_avx2(const float *x, long count, float *lo, float *hi) {
  __m256 vlo = _mm256_set1_ps(INFINITY), vhi = _mm256_set1_ps(-INFINITY);
  long i = 0;
  for (; i + 8 <= count; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    vlo = _mm256_min_ps(v, vlo);
    vhi = _mm256_max_ps(v, vhi);
  }
  float l[8], h[8];
  _mm256_storeu_ps(l, vlo);
  _mm256_storeu_ps(h, vhi);
  for (int e = 0; e < 8; e++) {
    *lo = l[e] < *lo ? l[e] : *lo;
    *hi = h[e] > *hi ? h[e] : *hi;
  }
  return i;
}
#endif

void attnc_min_max(const float *x, long count, float *min, float *max) {
  float lo = INFINITY, hi = -INFINITY;
  long i = 0;
#ifdef ATTNC_X86
  if (attnc_vector_math_uses_avx2()) i = min_max_avx2(x, count, &lo, &hi);
#endif
  for (; i < count; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  *min = lo;
  *max = hi;
}

static void quantize_row_portable(const float *x, long from, long k, float scale, int32_t zero, uint8_t *out) {
  const float low = (float)(0 - zero), high = (float)(255 - zero);
  for (long t = from; t < k; t++) {
    float q = x[t] / scale;
    q = q > low ? q : low; /* NaN goes low */
    q = q < high ? q : high;
    out[t] = (uint8_t)((int32_t)nearbyintf(q) + zero);
  }
}

#ifdef ATTNC_X86
ATTNC_AVX2 static long quantize_row_avx2(const float *x, long k, float scale, int32_t zero, uint8_t *out) {
  const __m256 vscale = _mm256_set1_ps(scale), low = _mm256_set1_ps((float)(0 - zero)),
               high = _mm256_set1_ps((float)(255 - zero));
  const __m256i vzero = _mm256_set1_epi32(zero);
  long t = 0;
  for (; t + 8 <= k; t += 8) {
    __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + t), vscale);
    q = _mm256_min_ps(_mm256_max_ps(q, low), high); /* max_ps(NaN, low) is low */
    __m256i v = _mm256_add_epi32(_mm256_cvtps_epi32(q), vzero); /* rounds half to even */
    __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    __m128i bytes = _mm_packus_epi16(words, words);
    _mm_storel_epi64((__m128i *)(out + t), bytes);
  }
  return t;
}
#endif

void attnc_quantize_rows_u8(const float *x, long rows, long k, long ldx, float scale, int32_t zero, uint8_t *out,
                            long ldo, int32_t *row_sums) {
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * ldx;
    uint8_t *target = out + r * ldo;
    long done = 0;
#ifdef ATTNC_X86
    if (attnc_vector_math_uses_avx2()) done = quantize_row_avx2(row, k, scale, zero, target);
#endif
    quantize_row_portable(row, done, k, scale, zero, target);
    for (long t = k; t < ldo; t++) target[t] = 0;
    if (row_sums) {
      int32_t sum = 0;
      for (long t = 0; t < k; t++) sum += target[t];
      row_sums[r] = sum;
    }
  }
}

/* ---- the tiles ---- */

/* One tile's place in the call. */
typedef struct {
  long row, column, columns; /* first row and column; columns ≤ the tile's width */
} tile;

/* The exact product from Σ a·b: Σ (a − za)(b − zb) = Σab − zb·Σa − za·Σb + k·za·zb, in wrapping
 * 32-bit arithmetic (the terms of the true sum wrap alike). */
static ALWAYS_INLINE int32_t corrected(const attnc_qgemm *g, int32_t dot, long i, long j, const int32_t *sums) {
  uint32_t za = (uint32_t)g->a_zero[i * g->a_zero_stride];
  uint32_t zb = g->b_zero ? (uint32_t)g->b_zero[j * g->b_zero_stride] : 0;
  uint32_t v = (uint32_t)dot - za * (uint32_t)sums[j] + za * zb * (uint32_t)g->k;
  if (zb) v -= zb * (uint32_t)g->a_row_sums[i];
  return (int32_t)v;
}

/* The activation over `count` finished floats of one row (none, GELU, tanh GELU or ReLU). */
static ALWAYS_INLINE void activate_row(const attnc_qgemm *g, float *out, long count) {
  if (g->activation == ATTNC_EPILOGUE_NONE) return;
  if (g->activation == ATTNC_EPILOGUE_RELU) {
    for (long j = 0; j < count; j++) out[j] = out[j] > 0 ? out[j] : 0;
    return;
  }
  attnc_gelu_limited(out, out, count, g->activation == ATTNC_EPILOGUE_GELU_TANH, g->kernels);
}

/* Stores one row of a finished tile: exact int32 sums `dots` of columns [column, column + count). */
static ALWAYS_INLINE void store_row(const attnc_qgemm *g, long i, long column, long count, const int32_t *dots) {
  const int32_t *sums = column_sums(g->packed_b, g->k, g->n);
  if (g->c_int) {
    int32_t *out = g->c_int + i * g->n + column;
    for (long c = 0; c < count; c++) out[c] = corrected(g, dots[c], i, column + c, sums);
    return;
  }
  float *out = g->c + i * g->n + column;
  for (long c = 0; c < count; c++) {
    long j = column + c;
    float x = (float)corrected(g, dots[c], i, j, sums) * (g->a_scale * g->b_scale[j * g->b_scale_stride]);
    if (g->alpha != 1) x *= g->alpha;
    for (int e = 0; e < g->addend_count; e++) {
      const attnc_addend *d = &g->addends[e];
      x += d->values[i * d->row_stride + j * d->column_stride];
    }
    out[c] = x;
  }
  activate_row(g, out, count);
}

/* ---- plain C: 4 rows × 16 columns ---- */

enum { STRIP_PORTABLE = 4 };

static void tile_portable(const attnc_qgemm *g, const tile *s, int rows, const uint8_t *a, const int8_t *panel) {
  int32_t acc[STRIP_PORTABLE][W];
  memset(acc, 0, sizeof acc);
  const long groups = groups_of(g->k);
  for (long q = 0; q < groups; q++) {
    const int8_t *b = panel + q * PANEL_GROUP_BYTES;
    for (int r = 0; r < rows; r++) {
      const uint8_t *x = a + r * g->lda + q * G;
      for (int c = 0; c < W; c++) {
        int32_t sum = 0;
        for (int d = 0; d < G; d++) sum += (int32_t)x[d] * (int32_t)b[c * G + d];
        acc[r][c] = (int32_t)((uint32_t)acc[r][c] + (uint32_t)sum);
      }
    }
  }
  for (int r = 0; r < rows; r++) store_row(g, s->row + r, s->column, s->columns, acc[r]);
}

#ifdef ATTNC_X86

/* ---- AVX2: 4 rows × 16 columns, as two halves of 8 ---- */

enum { STRIP_AVX2 = 4 };

/* Bytes widened to 16 bits and multiplied in pairs (vpmaddwd), which cannot saturate: u8·s8
 * pairs need 17 bits, vpmaddubsw's 16-bit sums would clip. */
ATTNC_AVX2 static ALWAYS_INLINE void half_rows_avx2(int rows, const attnc_qgemm *g, const tile *s, const uint8_t *a,
                                                     const int8_t *panel, int half) {
  __m256i acc[STRIP_AVX2][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const long groups = groups_of(g->k);
  for (long q = 0; q < groups; q++) {
    /* 8 columns × 4 depths: columns 4v..4v+3 of this half in b[v], pairs of depths per lane. */
    const int8_t *block = panel + q * PANEL_GROUP_BYTES + half * 8 * G;
    __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)block));
    __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 16)));
    for (int r = 0; r < rows; r++) {
      int32_t four;
      memcpy(&four, a + r * g->lda + q * G, 4);
      __m256i x = _mm256_cvtepu8_epi16(_mm_set1_epi32(four));
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
    }
  }
  for (int r = 0; r < rows; r++) {
    /* Each lane pair holds one column's two partial sums: add them, in column order. */
    __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
    int32_t dots[8];
    _mm256_storeu_si256((__m256i *)dots, sums);
    long first = s->column + half * 8;
    long count = min_long(8, s->column + s->columns - first);
    if (count > 0) store_row(g, s->row + r, first, count, dots);
  }
}

ATTNC_AVX2 static void tile_avx2(const attnc_qgemm *g, const tile *s, int rows, const uint8_t *a, const int8_t *panel) {
  for (int half = 0; half < 2; half++) {
#define ROWS(n) \
  case n: half_rows_avx2(n, g, s, a, panel, half); break;
    switch (rows) { ATTNC_ROW_CASES_4(ROWS) }
#undef ROWS
  }
}

/* ---- AVX-512 VNNI: 12 rows × 32 columns (two panels) ---- */

enum { STRIP_VNNI = 12 };

/* The float epilogue of one row's 16 columns in registers. */
ATTNC_VNNI static ALWAYS_INLINE void store_vnni(const attnc_qgemm *g, long i, long j, __mmask16 mask, __m512i dot,
                                                const int32_t *sums) {
  __m512i za = _mm512_set1_epi32(g->a_zero[i * g->a_zero_stride]);
  __m512i v = _mm512_sub_epi32(dot, _mm512_mullo_epi32(za, _mm512_maskz_loadu_epi32(mask, sums + j)));
  if (g->b_zero) {
    __m512i zb = g->b_zero_stride ? _mm512_maskz_loadu_epi32(mask, g->b_zero + j) : _mm512_set1_epi32(g->b_zero[0]);
    __m512i term = _mm512_sub_epi32(_mm512_mullo_epi32(za, _mm512_set1_epi32((int32_t)g->k)),
                                    _mm512_set1_epi32(g->a_row_sums[i]));
    v = _mm512_add_epi32(v, _mm512_mullo_epi32(zb, term));
  }
  if (g->c_int) {
    _mm512_mask_storeu_epi32(g->c_int + i * g->n + j, mask, v);
    return;
  }
  __m512 bs = g->b_scale_stride ? _mm512_maskz_loadu_ps(mask, g->b_scale + j) : _mm512_set1_ps(g->b_scale[0]);
  __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(_mm512_set1_ps(g->a_scale), bs));
  if (g->alpha != 1) x = _mm512_mul_ps(x, _mm512_set1_ps(g->alpha));
  for (int e = 0; e < g->addend_count; e++) x = _mm512_add_ps(x, addend_avx512(&g->addends[e], i, j, mask));
  _mm512_mask_storeu_ps(g->c + i * g->n + j, mask, x);
}

/* `vectors` (1 or 2) panels of 16 columns starting at `panel`. */
ATTNC_VNNI static ALWAYS_INLINE void tile_rows_vnni(int rows, int vectors, const attnc_qgemm *g, const tile *s,
                                                     const uint8_t *a, const int8_t *panel) {
  const long groups = groups_of(g->k), lda = g->lda;
  const int8_t *second = panel + panel_bytes(g->k);
  __m512i acc[STRIP_VNNI][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (long q = 0; q < groups; q++) {
    __m512i b0 = _mm512_loadu_si512(panel + q * PANEL_GROUP_BYTES), b1 = _mm512_setzero_si512();
    if (vectors == 2) b1 = _mm512_loadu_si512(second + q * PANEL_GROUP_BYTES);
    for (int r = 0; r < rows; r++) {
      int32_t four;
      memcpy(&four, a + r * lda + q * G, 4);
      __m512i x = _mm512_set1_epi32(four);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, b0);
      if (vectors == 2) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, b1);
    }
  }
  const int32_t *sums = column_sums(g->packed_b, g->k, g->n);
  long rest = s->columns;
  __mmask16 mask[2];
  mask[0] = rest >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rest) - 1);
  mask[1] = rest >= 32 ? (__mmask16)0xFFFF : rest > 16 ? (__mmask16)((1u << (rest - 16)) - 1) : 0;
  for (int r = 0; r < rows; r++) {
    long i = s->row + r;
    for (int v = 0; v < vectors; v++) store_vnni(g, i, s->column + 16 * v, mask[v], acc[r][v], sums);
    if (!g->c_int) activate_row(g, g->c + i * g->n + s->column, s->columns);
  }
}

ATTNC_VNNI static void tile_vnni(const attnc_qgemm *g, const tile *s, int rows, const uint8_t *a, const int8_t *panel) {
#define ATTNC_TILE_KERNEL(n, v) tile_rows_vnni(n, v, g, s, a, panel)
  ATTNC_TILE_SWITCH_12(rows, s->columns > 16);
#undef ATTNC_TILE_KERNEL
}

static int has_vnni(void) {
  static int state = -1;
  if (state < 0) {
    __builtin_cpu_init();
    state = attnc_vector_math_uses_avx512() && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vnni");
  }
  return state;
}

#endif

int attnc_qgemm_uses_vnni(void) {
#ifdef ATTNC_X86
  return has_vnni();
#else
  return 0;
#endif
}

/* ---- driver ---- */

typedef struct {
  int strip, width; /* rows and columns of one tile */
  void (*tile)(const attnc_qgemm *, const tile *, int, const uint8_t *, const int8_t *);
} tile_kernels;

static tile_kernels kernels_for(int limit) {
#ifdef ATTNC_X86
  if (limit == ATTNC_QGEMM_WIDEST && has_vnni()) return (tile_kernels){STRIP_VNNI, 2 * W, tile_vnni};
  if (limit != ATTNC_QGEMM_PORTABLE && attnc_vector_math_uses_avx2()) return (tile_kernels){STRIP_AVX2, W, tile_avx2};
#endif
  return (tile_kernels){STRIP_PORTABLE, W, tile_portable};
}

void attnc_qgemm_run(const attnc_qgemm *g, long row_begin, long row_end, long column_begin, long column_end) {
  const tile_kernels kernels = kernels_for(g->kernels);
  /* Rows per block: their A (≤ 256 KiB) stays in L2 while every panel passes over it. */
  long block_rows = (262144 / (g->lda > 0 ? g->lda : 1)) / kernels.strip * kernels.strip;
  if (block_rows < kernels.strip) block_rows = kernels.strip;
  const long stride = panel_bytes(g->k);
  for (long block = row_begin; block < row_end; block += block_rows) {
    const long block_end = min_long(block + block_rows, row_end);
    for (long column = column_begin; column < column_end; column += kernels.width) {
      tile s = {0, column, min_long(kernels.width, column_end - column)};
      const int8_t *panel = (const int8_t *)g->packed_b + (column / W) * stride;
      for (long row = block; row < block_end; row += kernels.strip) {
        s.row = row;
        int rows = (int)min_long(kernels.strip, block_end - row);
        kernels.tile(g, &s, rows, g->a + row * g->lda, panel);
      }
    }
  }
}
