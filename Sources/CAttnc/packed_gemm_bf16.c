#include "attnc_packed_gemm.h"

#include "packed_gemm_tiles.h"

#include <stdlib.h>
#include <string.h>

#ifdef ATTNC_X86
#include <cpuid.h>
#define ATTNC_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))
#endif

/* The bfloat16 tiles of attnc_gemm_run (packed_gemm.c runs the driver): operands rounded to
 * bfloat16, pairs of products summed in float32. */

static long pairs_of(long k) { return (k + 1) / 2; }

static long panels_of(long n) { return (n + W - 1) / W; }

/* The bits of a float, and a float of bits. */
static uint32_t bits_of(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* Round to nearest even on the bits; NaN quieted; zero and subnormal inputs to a signed zero, as
 * vcvtneps2bf16 treats them. */
uint16_t attnc_bf16_round(float v) {
  uint32_t u = bits_of(v), magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return (uint16_t)((u | 0x00400000u) >> 16);
  if (magnitude < 0x00800000u) return (uint16_t)((u & 0x80000000u) >> 16);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/* A pair word's two halves as floats: depth 2q (low) and 2q + 1 (high). */
static float low_of(uint32_t word) { return float_of(word << 16); }
static float high_of(uint32_t word) { return float_of(word & 0xFFFF0000u); }

static uint32_t pair(float low, float high) {
  return (uint32_t)attnc_bf16_round(low) | (uint32_t)attnc_bf16_round(high) << 16;
}

long attnc_gemm_bf16_packed_words(long k, long n) { return panels_of(n) * pairs_of(k) * W; }

#ifdef ATTNC_X86
static void pack_pair_avx512(const float *low, const float *high, long width, uint32_t *out);
static void pack_pair_bf16(const float *low, const float *high, long width, uint32_t *out);
static int machine_has_bf16(void);
static void pack_shifted_avx512(const uint32_t *planes, long plane_words, long units, long taps,
                                const long *tap_offsets, const long *column_offsets, long n, uint32_t *packed);
#endif

void attnc_gemm_bf16_pack_rows(const float *rows, long first, long count, long k, long n, uint32_t *packed) {
  const long depth = pairs_of(k), q_begin = first / 2, q_end = (first + count + 1) / 2;
  /* Panel by panel, so that the pairs of one panel are written together (they are adjacent). */
  for (long p = 0; p < panels_of(n); p++) {
    for (long q = q_begin; q < q_end; q++) {
      const float *low = rows + (2 * q - first) * n + p * W, *high = 2 * q + 1 < k ? low + n : 0;
      const long width = n - p * W < W ? n - p * W : W;
      uint32_t *out = packed + (p * depth + q) * W;
#ifdef ATTNC_X86
      if (machine_has_bf16()) {
        pack_pair_bf16(low, high, width, out);
        continue;
      }
      if (attnc_vector_math_uses_avx512()) {
        pack_pair_avx512(low, high, width, out);
        continue;
      }
#endif
      for (long c = 0; c < W; c++) out[c] = c < width ? pair(low[c], high ? high[c] : 0) : 0;
    }
  }
}

void attnc_gemm_bf16_pack(const float *b, long k, long n, uint32_t *packed) {
  attnc_gemm_bf16_pack_rows(b, 0, k, k, n, packed);
}

void attnc_gemm_bf16_unpack(const uint32_t *packed, long k, long n, float *b) {
  const long depth = pairs_of(k);
  for (long p = 0; p < panels_of(n); p++) {
    for (long q = 0; q < depth; q++) {
      const uint32_t *in = packed + (p * depth + q) * W;
      for (long c = 0; c < W && p * W + c < n; c++) {
        long column = p * W + c, t = 2 * q;
        b[t * n + column] = low_of(in[c]);
        if (t + 1 < k) b[(t + 1) * n + column] = high_of(in[c]);
      }
    }
  }
}

void attnc_gemm_bf16_pair_row(const float *low, const float *high, long n, uint32_t *out) {
  long c = 0;
#ifdef ATTNC_X86
  const int dot = machine_has_bf16(), wide = attnc_vector_math_uses_avx512();
  if (dot || wide) {
    for (; c < n; c += W) {
      uint32_t tail[W];
      const long width = n - c < W ? n - c : W;
      uint32_t *target = width == W ? out + c : tail;
      if (dot) pack_pair_bf16(low + c, high ? high + c : 0, width, target);
      else pack_pair_avx512(low + c, high ? high + c : 0, width, target);
      if (width < W) memcpy(out + c, tail, sizeof(uint32_t) * (size_t)width);
    }
    return;
  }
#endif
  for (; c < n; c++) out[c] = pair(low[c], high ? high[c] : 0);
}

void attnc_gemm_bf16_pack_shifted(const uint32_t *planes, long plane_words, long units, long taps,
                                  const long *tap_offsets, const long *column_offsets, long n, uint32_t *packed,
                                  int kernels) {
#ifdef ATTNC_X86
  if (kernels == ATTNC_GEMM_WIDEST && attnc_vector_math_uses_avx512()) {
    pack_shifted_avx512(planes, plane_words, units, taps, tap_offsets, column_offsets, n, packed);
    return;
  }
#endif
  const long depth = taps * units;
  for (long p = 0; p < panels_of(n); p++) {
    const long first = p * W, width = n - first < W ? n - first : W;
    for (long j = 0; j < taps; j++) {
      for (long u = 0; u < units; u++) {
        const uint32_t *source = planes + tap_offsets[j] + u * plane_words;
        uint32_t *out = packed + (p * depth + j * units + u) * W;
        for (long c = 0; c < W; c++) out[c] = c < width ? source[column_offsets[first + c]] : 0;
      }
    }
  }
}

/* ---- rounding A ---- */

#ifdef ATTNC_X86
/* attnc_bf16_round on 16 lanes: each 32-bit lane holds the rounded bfloat16 in its high half. */
ATTNC_AVX512 static inline __m512i round16_avx512(__m512 x) {
  const __m512i sign = _mm512_set1_epi32((int)0x80000000u), quiet = _mm512_set1_epi32(0x00400000);
  const __m512i infinity = _mm512_set1_epi32(0x7F800000), smallest = _mm512_set1_epi32(0x00800000);
  const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
  __m512i u = _mm512_castps_si512(x);
  __m512i magnitude = _mm512_andnot_si512(sign, u);
  __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(_mm512_srli_epi32(u, 16), one)));
  rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmpgt_epu32_mask(magnitude, infinity), _mm512_or_si512(u, quiet));
  return _mm512_mask_mov_epi32(rounded, _mm512_cmplt_epu32_mask(magnitude, smallest), _mm512_and_si512(u, sign));
}

/* attnc_bf16_round on 16 floats at a time; returns how many of the k were done. */
ATTNC_AVX512 static long round_row_avx512(const float *x, long k, uint16_t *out) {
  long t = 0;
  for (; t + 16 <= k; t += 16) {
    _mm256_storeu_si256((__m256i *)(out + t), _mm512_cvtepi32_epi16(_mm512_srli_epi32(round16_avx512(_mm512_loadu_ps(x + t)), 16)));
  }
  return t;
}

/* round_row_avx512 and pack_pair_avx512 with vcvtneps2bf16, which rounds as attnc_bf16_round does
 * (nearest even, NaN quieted, subnormals to a signed zero): the same bits in one instruction. */
ATTNC_BF16 static long round_row_bf16(const float *x, long k, uint16_t *out) {
  long t = 0;
  for (; t + 16 <= k; t += 16) _mm256_storeu_si256((__m256i *)(out + t), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(x + t)));
  return t;
}

ATTNC_BF16 static void pack_pair_bf16(const float *low, const float *high, long width, uint32_t *out) {
  const __mmask16 lanes = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
  const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, low)));
  const __m512i h = high ? _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(lanes, high))) : _mm512_setzero_si512();
  _mm512_storeu_si512(out, _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
}

/* One panel's pair word of B's rows: `width` (≤ 16) columns of low and high (NULL past k), the
 * rest zeros. */
ATTNC_AVX512 static void pack_pair_avx512(const float *low, const float *high, long width, uint32_t *out) {
  const __m512i upper = _mm512_set1_epi32((int)0xFFFF0000u);
  const __mmask16 lanes = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
  __m512i l = round16_avx512(_mm512_maskz_loadu_ps(lanes, low));
  __m512i h = high ? round16_avx512(_mm512_maskz_loadu_ps(lanes, high)) : _mm512_setzero_si512();
  _mm512_storeu_si512(out, _mm512_or_si512(_mm512_srli_epi32(l, 16), _mm512_and_si512(h, upper)));
}

/* attnc_gemm_bf16_pack_shifted, 16 words at a time where a panel's columns are adjacent words
 * of a plane line (all but the panels that straddle two lines), gathered otherwise. */
ATTNC_AVX512 static void pack_shifted_avx512(const uint32_t *planes, long plane_words, long units, long taps,
                                             const long *tap_offsets, const long *column_offsets, long n,
                                             uint32_t *packed) {
  const long depth = taps * units;
  for (long p = 0; p < panels_of(n); p++) {
    const long first = p * W, width = n - first < W ? n - first : W;
    const long *columns = column_offsets + first;
    const __mmask16 lanes = width >= W ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
    int adjacent = 1;
    for (long c = 1; c < width; c++) adjacent &= columns[c] == columns[0] + c;
    __m512i gather_index = _mm512_setzero_si512();
    if (!adjacent) {
      int32_t index[W] = {0};
      for (long c = 0; c < width; c++) index[c] = (int32_t)(columns[c] - columns[0]);
      gather_index = _mm512_loadu_si512(index);
    }
    uint32_t *out = packed + p * depth * W;
    for (long j = 0; j < taps; j++) {
      const uint32_t *source = planes + tap_offsets[j] + columns[0];
      for (long u = 0; u < units; u++, source += plane_words, out += W) {
        __m512i words = adjacent ? _mm512_maskz_loadu_epi32(lanes, source)
                                 : _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), lanes, gather_index, source, 4);
        _mm512_storeu_si512(out, words);
      }
    }
  }
}
#endif

void attnc_gemm_bf16_round_rows(const float *x, long rows, long k, long ldx, uint32_t *out) {
  const long depth = pairs_of(k);
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * ldx;
    uint16_t halves[2];
    uint32_t *target = out + r * depth;
    long t = 0;
#ifdef ATTNC_X86
    if (machine_has_bf16()) {
      t = round_row_bf16(row, k / 16 * 16, (uint16_t *)target); /* whole words: a multiple of 16 */
    } else if (attnc_vector_math_uses_avx512()) {
      t = round_row_avx512(row, k / 16 * 16, (uint16_t *)target);
    }
#endif
    for (; t < k; t += 2) {
      long count = k - t < 2 ? 1 : 2;
      for (long e = 0; e < count; e++) halves[e] = attnc_bf16_round(row[t + e]);
      target[t / 2] = (uint32_t)halves[0] | (count == 2 ? (uint32_t)halves[1] << 16 : 0);
    }
  }
}

/* ---- plain C: 4 rows × 16 columns ---- */

enum { STRIP_PORTABLE = 4 };

/* Each pair adds its odd product, then its even one, as vdpbf16ps does; the products of bfloat16
 * values are exact in float32, so a fused multiply-add gives the same sums. */
static void tile_portable(const attnc_gemm *g, const gemm_tile *s, int rows, const void *a_, const void *panel_,
                          long kc) {
  const uint32_t *a = a_, *panel = panel_;
  const long lda = gemm_depth_units(g);
  float acc[STRIP_PORTABLE][W];
  memset(acc, 0, sizeof acc);
  for (long t = 0; t < kc; t++) {
    float low[W], high[W];
    for (int c = 0; c < W; c++) {
      low[c] = low_of(panel[t * W + c]);
      high[c] = high_of(panel[t * W + c]);
    }
    for (int r = 0; r < rows; r++) {
      uint32_t word = a[r * lda + t];
      float x0 = low_of(word), x1 = high_of(word);
      for (int c = 0; c < W; c++) {
        acc[r][c] += x1 * high[c];
        acc[r][c] += x0 * low[c];
      }
    }
  }
  gemm_store_portable(g, s, rows, acc);
}

/* ---- AVX-512 BF16: 12 rows × 32 columns (two panels), one vdpbf16ps per row and panel and pair ---- */

#ifdef ATTNC_X86
enum { STRIP_DOT = 12 };

ATTNC_BF16 static ALWAYS_INLINE void tile_rows_dot(int rows, int vectors, const attnc_gemm *g, const gemm_tile *s,
                                                   const uint32_t *a, const uint32_t *panel, long kc) {
  const long lda = gemm_depth_units(g);
  const uint32_t *second = panel + lda * W;
  __m512 acc[STRIP_DOT][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long t = 0; t < kc; t++) {
    gemm_prefetch_next(s, lda, t);
    __m512bh b0 = (__m512bh)_mm512_loadu_si512(panel + t * W), b1 = b0;
    if (vectors == 2) b1 = (__m512bh)_mm512_loadu_si512(second + t * W);
    for (int r = 0; r < rows; r++) {
      __m512bh x = (__m512bh)_mm512_set1_epi32((int)a[r * lda + t]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
      if (vectors == 2) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
    }
  }
  gemm_store_avx512(g, s, rows, vectors, acc);
}

ATTNC_BF16 static void tile_dot(const attnc_gemm *g, const gemm_tile *s, int rows, const void *a_, const void *panel_,
                                long kc) {
  const uint32_t *a = a_, *panel = panel_;
#define ATTNC_TILE_KERNEL(n, v) tile_rows_dot(n, v, g, s, a, panel, kc)
  ATTNC_TILE_SWITCH_12(rows, s->columns > 16);
#undef ATTNC_TILE_KERNEL
}

/* CPUID leaf 7, subleaf 1, EAX bit 5: AVX512_BF16 (the OS's AVX-512 state is checked by
 * attnc_vector_math_uses_avx512). */
static int machine_has_bf16(void) {
  static int state = -1;
  if (state < 0) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    int leaf = __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx);
    state = attnc_vector_math_uses_avx512() && leaf && (eax & (1u << 5)) != 0;
  }
  return state;
}
#endif

int attnc_gemm_bf16_uses_dot(void) {
#ifdef ATTNC_X86
  const char *forced = getenv("ATTNC_GEMM_NO_BF16_DOT");
  return machine_has_bf16() && !(forced && *forced && strcmp(forced, "0") != 0);
#else
  return 0;
#endif
}

gemm_tile_kernels attnc_gemm_bf16_kernels(int limit) {
#ifdef ATTNC_X86
  if (limit == ATTNC_GEMM_WIDEST && attnc_gemm_bf16_uses_dot()) return (gemm_tile_kernels){STRIP_DOT, 2 * W, tile_dot};
#endif
  (void)limit;
  return (gemm_tile_kernels){STRIP_PORTABLE, W, tile_portable};
}
