#include "attnc_attention_int8.h"

#include "attnc_quantized_gemm.h"
#include "gemm_tiles.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* W keys a panel (two 16-lane vectors, the AVX-512 tiles' panel) and a key scale; the strip's
 * most rows; query rows a scale. */
enum { W = 32, STRIP = 12, QUERY_ROWS = 16 };

long attnc_attention_int8_panel_width(void) { return W; }
long attnc_attention_int8_query_rows(void) { return QUERY_ROWS; }

static long quads_of(long depth) { return (depth + 3) / 4; }
long attnc_attention_int8_key_units(long depth) { return quads_of(depth) + 2; }
long attnc_attention_int8_query_units(long depth) { return quads_of(depth) + 1; }
static long panel_units(long depth) { return attnc_attention_int8_key_units(depth) * W; }

long attnc_attention_int8_packed_floats(long keys, long depth) { return (keys + W - 1) / W * panel_units(depth); }

/* x · inverse rounded to the nearest integer (ties to even), within ±127. On x86 cvtss2si
 * rounds as rintf does in the default rounding mode, without a call into libm (SSE4.1's
 * roundss is not in the baseline). */
static int8_t quantized(float x, float inverse) {
#ifdef ATTNC_X86
  int r = _mm_cvtss_si32(_mm_set_ss(x * inverse));
#else
  float r = rintf(x * inverse);
#endif
  return (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
}

/* ---- the operands' quantization: per row, plain C or AVX-512 (the same numbers) ---- */

/* sum[t] += x[t] and count[t] += 1 for the finite x[t], t < n. */
static void add_finite_portable(const float *x, long n, double *sum, double *count) {
  for (long t = 0; t < n; t++) {
    if (isfinite(x[t])) sum[t] += x[t], count[t] += 1;
  }
}

/* max |x[t] − shift[t]| over t < n (shift NULL: 0), or −1 when some x[t] is NaN or ±inf. */
static float row_top_portable(const float *x, const float *shift, long n) {
  float top = 0;
  for (long t = 0; t < n; t++) {
    if (!isfinite(x[t])) return -1;
    top = fmaxf(top, fabsf(shift ? x[t] - shift[t] : x[t]));
  }
  return top;
}

/* out[t] = quantized(x[t] − shift[t], inverse) + bias for t < n, bias for n ≤ t < padded (a
 * multiple of 4); returns Σ quantized. */
static int32_t quantize_row_portable(const float *x, const float *shift, long n, long padded, float inverse, int bias,
                                     int8_t *out) {
  int32_t sum = 0;
  for (long t = 0; t < padded; t++) {
    const int8_t v = t < n ? quantized(shift ? x[t] - shift[t] : x[t], inverse) : 0;
    out[t] = (int8_t)(v + bias);
    sum += v;
  }
  return sum;
}

#ifdef ATTNC_X86
static __mmask16 lanes_below(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

ATTNC_VNNI static void add_finite_avx512(const float *x, long n, double *sum, double *count) {
  const __m512d one = _mm512_set1_pd(1), infinity = _mm512_set1_pd(INFINITY);
  for (long t = 0; t < n; t += 8) {
    const __mmask8 lanes = (__mmask8)lanes_below(n - t < 8 ? n - t : 8);
    const __m512d v = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(lanes, x + t)));
    const __mmask8 finite = _mm512_mask_cmp_pd_mask(lanes, _mm512_abs_pd(v), infinity, _CMP_LT_OQ);
    _mm512_mask_storeu_pd(sum + t, finite, _mm512_add_pd(_mm512_maskz_loadu_pd(finite, sum + t), v));
    _mm512_mask_storeu_pd(count + t, finite, _mm512_add_pd(_mm512_maskz_loadu_pd(finite, count + t), one));
  }
}

ATTNC_VNNI static float row_top_avx512(const float *x, const float *shift, long n) {
  const __m512 infinity = _mm512_set1_ps(INFINITY);
  __m512 top = _mm512_setzero_ps();
  for (long t = 0; t < n; t += 16) {
    const __mmask16 lanes = lanes_below(n - t);
    const __m512 v = _mm512_maskz_loadu_ps(lanes, x + t);
    if (_mm512_mask_cmp_ps_mask(lanes, _mm512_abs_ps(v), infinity, _CMP_LT_OQ) != lanes) return -1;
    const __m512 d = shift ? _mm512_sub_ps(v, _mm512_maskz_loadu_ps(lanes, shift + t)) : v;
    top = _mm512_max_ps(top, _mm512_abs_ps(d));
  }
  return _mm512_reduce_max_ps(top);
}

ATTNC_VNNI static int32_t quantize_row_avx512(const float *x, const float *shift, long n, long padded, float inverse, int bias,
                                               int8_t *out) {
  const __m512 factor = _mm512_set1_ps(inverse);
  const __m512i low = _mm512_set1_epi32(-127), high = _mm512_set1_epi32(127), offset = _mm512_set1_epi32(bias);
  __m512i sum = _mm512_setzero_si512();
  for (long t = 0; t < padded; t += 16) {
    const __mmask16 lanes = lanes_below(n - t > 0 ? n - t : 0);
    __m512 v = _mm512_maskz_loadu_ps(lanes, x + t);
    if (shift) v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(lanes, shift + t));
    /* cvtps2dq rounds to nearest even, as cvtss2si; out-of-range gives INT32_MIN, clamped to −127 */
    const __m512i q = _mm512_maskz_mov_epi32(lanes, _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, factor)), low), high));
    sum = _mm512_add_epi32(sum, q);
    _mm512_mask_cvtepi32_storeu_epi8(out + t, lanes_below(padded - t), _mm512_add_epi32(q, offset));
  }
  return _mm512_reduce_add_epi32(sum);
}
#endif

static void add_finite(int wide, const float *x, long n, double *sum, double *count) {
#ifdef ATTNC_X86
  if (wide) return add_finite_avx512(x, n, sum, count);
#endif
  add_finite_portable(x, n, sum, count);
}

static float row_top(int wide, const float *x, const float *shift, long n) {
#ifdef ATTNC_X86
  if (wide) return row_top_avx512(x, shift, n);
#endif
  return row_top_portable(x, shift, n);
}

static int32_t quantize_row(int wide, const float *x, const float *shift, long n, long padded, float inverse, int bias,
                            int8_t *out) {
#ifdef ATTNC_X86
  if (wide) return quantize_row_avx512(x, shift, n, padded, inverse, bias, out);
#endif
  return quantize_row_portable(x, shift, n, padded, inverse, bias, out);
}

void attnc_attention_int8_pack_keys(const float *k, long keys, long depth, int smooth, int widest, float *packed) {
  const int wide = widest && attnc_attention_int8_native();
  const long quads = quads_of(depth), panels = (keys + W - 1) / W, n = depth > 0 ? depth : 1;
  double sum[n], count[n];
  float mean[n];
  for (long t = 0; t < n; t++) sum[t] = count[t] = 0;
  for (long j = 0; smooth && j < keys; j++) add_finite(wide, k + j * depth, depth, sum, count);
  for (long t = 0; t < n; t++) mean[t] = count[t] > 0 ? (float)(sum[t] / count[t]) : 0;
  int8_t row[4 * quads + 16];
  for (long p = 0; p < panels; p++) {
    float *panel = packed + p * panel_units(depth);
    int32_t *offsets = (int32_t *)(panel + quads * W);
    float *scales = panel + quads * W + W;
    float tops[W], top = 0;
    for (long c = 0; c < W; c++) {
      tops[c] = p * W + c < keys ? row_top(wide, k + (p * W + c) * depth, mean, depth) : -1;
      top = fmaxf(top, tops[c]);
    }
    const float inverse = top > 0 ? 127.0f / top : 0, scale = top / 127.0f;
    for (long c = 0; c < W; c++) {
      const long j = p * W + c;
      const int live = tops[c] >= 0;
      offsets[c] = live ? 128 * quantize_row(wide, k + j * depth, mean, depth, 4 * quads, inverse, 0, row) : 0;
      if (!live) memset(row, 0, (size_t)(4 * quads));
      /* four channels a 32-bit unit, the key's units W apart */
      for (long g = 0; g < quads; g++) memcpy(panel + g * W + c, row + 4 * g, 4);
      scales[c] = j >= keys ? 0 : live ? scale : NAN;
    }
  }
}

void attnc_attention_int8_quantize_queries(const float *q, long rows, long depth, int widest, float *out) {
  const int wide = widest && attnc_attention_int8_native();
  const long quads = quads_of(depth), units = quads + 1;
  for (long first = 0; first < rows; first += QUERY_ROWS) {
    const long last = first + QUERY_ROWS < rows ? first + QUERY_ROWS : rows;
    float tops[QUERY_ROWS], top = 0;
    for (long r = first; r < last; r++) {
      tops[r - first] = row_top(wide, q + r * depth, NULL, depth);
      top = fmaxf(top, tops[r - first]);
    }
    const float inverse = top > 0 ? 127.0f / top : 0, scale = top / 127.0f;
    for (long r = first; r < last; r++) {
      const int live = tops[r - first] >= 0;
      int8_t *bytes = (int8_t *)(out + r * units);
      /* the bytes are q8 + 128 as uint8: the same bits as int8 q8 − 128 */
      if (live) quantize_row(wide, q + r * depth, NULL, depth, 4 * quads, inverse, -128, bytes);
      else memset(bytes, 0x80, (size_t)(4 * quads));
      out[r * units + quads] = live ? scale : NAN;
    }
  }
}

void attnc_attention_int8_qk_strip_portable(int rows, const float *q, long depth, const float *packed, long panels,
                                            float scale, float *strip, long stride) {
  const long quads = quads_of(depth), units = quads + 1;
  for (int r = 0; r < rows; r++) {
    const uint8_t *row = (const uint8_t *)(q + r * units);
    const float factor = scale * q[r * units + quads];
    for (long p = 0; p < panels; p++) {
      const float *panel = packed + p * panel_units(depth);
      const int8_t *bytes = (const int8_t *)panel;
      const int32_t *offsets = (const int32_t *)(panel + quads * W);
      const float *scales = panel + quads * W + W;
      for (long c = 0; c < W; c++) {
        int32_t acc = 0;
        for (long t = 0; t < 4 * quads; t++) acc += (int32_t)row[t] * bytes[((t / 4) * W + c) * 4 + t % 4];
        strip[r * stride + p * W + c] = (float)(acc - offsets[c]) * (scales[c] * factor);
      }
    }
  }
}

#ifdef ATTNC_X86
/* 12 × 32 strip: per group of four channels two loads of 32 keys, a broadcast of each row's four
 * query bytes, 24 vpdpbusd. */
ATTNC_VNNI static ALWAYS_INLINE void qk_rows_vnni(int rows, const float *q, long depth, const float *packed,
                                                   long panels, float scale, float *strip, long stride) {
  const long quads = quads_of(depth), units = quads + 1;
  for (long p = 0; p < panels; p++) {
    const float *panel = packed + p * panel_units(depth);
    __m512i acc[STRIP][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (long t = 0; t < quads; t++) {
      const __m512i k0 = _mm512_loadu_si512(panel + t * W), k1 = _mm512_loadu_si512(panel + t * W + 16);
      for (int r = 0; r < rows; r++) {
        int32_t four;
        memcpy(&four, q + r * units + t, 4);
        const __m512i x = _mm512_set1_epi32(four);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, k0);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, k1);
      }
    }
    const __m512i o0 = _mm512_loadu_si512(panel + quads * W), o1 = _mm512_loadu_si512(panel + quads * W + 16);
    const __m512 s0 = _mm512_loadu_ps(panel + quads * W + W), s1 = _mm512_loadu_ps(panel + quads * W + W + 16);
    for (int r = 0; r < rows; r++) {
      const __m512 factor = _mm512_set1_ps(scale * q[r * units + quads]);
      float *out = strip + r * stride + p * W;
      _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][0], o0)), _mm512_mul_ps(s0, factor)));
      _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][1], o1)), _mm512_mul_ps(s1, factor)));
    }
  }
}

ATTNC_VNNI static void qk_strip_vnni(int rows, const float *q, long depth, const float *packed, long panels,
                                     float scale, float *strip, long stride) {
  ATTNC_ROW_DISPATCH_12(rows, qk_rows_vnni, q, depth, packed, panels, scale, strip, stride);
}
#endif

/* ---- P·V ---- */

long attnc_attention_int8_value_columns(long value_depth) { return (value_depth + 15) / 16 * 16; }

long attnc_attention_int8_packed_value_floats(long keys, long value_depth) {
  return (1 + quads_of(keys)) * attnc_attention_int8_value_columns(value_depth);
}

void attnc_attention_int8_pack_values(const float *v, long keys, long value_depth, float *packed) {
  const long columns = attnc_attention_int8_value_columns(value_depth), groups = quads_of(keys);
  int8_t *bytes = (int8_t *)(packed + columns);
  for (long c = 0; c < columns; c++) {
    float top = 0;
    int finite = 1;
    for (long j = 0; c < value_depth && j < keys; j++) {
      const float x = v[j * value_depth + c];
      if (!isfinite(x)) finite = 0;
      else top = fmaxf(top, fabsf(x));
    }
    const float inverse = top > 0 ? 127.0f / top : 0;
    for (long j = 0; j < 4 * groups; j++) {
      const int live = finite && c < value_depth && j < keys;
      bytes[((j / 4) * columns + c) * 4 + j % 4] = live ? quantized(v[j * value_depth + c], inverse) : 0;
    }
    packed[c] = c >= value_depth ? 0 : finite ? top / 127.0f : NAN;
  }
}

/* The probability bytes of a strip row take `stride` bytes; the rows' panel factors follow the
 * rows' bytes, stride / 32 floats a row. */
static float *panel_factors(void *out, int rows, long stride) { return (float *)((uint8_t *)out + rows * stride); }

void attnc_attention_int8_quantize_probabilities_portable(const float *strip, int rows, long width, long stride, void *out) {
  float *factors = panel_factors(out, STRIP, stride);
  for (int r = 0; r < rows; r++) {
    uint8_t *row = (uint8_t *)out + r * stride;
    for (long first = 0; first < width; first += W) {
      float top = 0;
      for (long j = first; j < first + W; j++) top = fmaxf(top, strip[r * stride + j]);
      const float inverse = top > 0 ? 255.0f / top : 0;
      for (long j = first; j < first + W; j++) {
        const float p = strip[r * stride + j] * inverse;
        row[j] = p > 0 ? (uint8_t)rintf(p > 255 ? 255 : p) : 0;
      }
      factors[r * (stride / W) + first / W] = top / 255.0f;
    }
  }
}

void attnc_attention_int8_pv_strip_portable(int rows, const float *p, long p_stride, const float *v, long value_depth,
                                            long count, float *y, const float *corrections) {
  const long columns = attnc_attention_int8_value_columns(value_depth), keys = 4 * quads_of(count);
  const int8_t *bytes = (const int8_t *)v;
  const float *factors = panel_factors((void *)p, STRIP, 4 * p_stride);
  for (int r = 0; r < rows; r++) {
    const uint8_t *weights = (const uint8_t *)(p + r * p_stride);
    for (long c = 0; c < value_depth; c++) {
      float sum = 0;
      for (long first = 0; first < keys; first += W) {
        int32_t acc = 0;
        for (long j = first; j < first + W && j < keys; j++) acc += (int32_t)weights[j] * bytes[((j / 4) * columns + c) * 4 + j % 4];
        sum += (float)acc * factors[r * (p_stride / 8) + first / W];
      }
      y[r * value_depth + c] = corrections[r] * y[r * value_depth + c] + sum;
    }
  }
}

#ifdef ATTNC_X86
/* One 32-key panel of a row: bytes p · inverse rounded to nearest (NaN converts to INT32_MIN,
 * which the max turns into 0; the unsigned pack saturates at 255). */
ATTNC_VNNI static ALWAYS_INLINE void quantize_panel_avx512(const float *p, __m512 inverse, uint8_t *out) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i n0 = _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(p), inverse)), zero);
  const __m512i n1 = _mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(p + 16), inverse)), zero);
  _mm_storeu_si128((__m128i *)out, _mm512_cvtusepi32_epi8(n0));
  _mm_storeu_si128((__m128i *)(out + 16), _mm512_cvtusepi32_epi8(n1));
}

/* A panel's largest probability per lane, NaN skipped (as fmaxf): max(p, 0) keeps the 0. */
ATTNC_VNNI static ALWAYS_INLINE __m512 panel_top_avx512(const float *p) {
  const __m512 zero = _mm512_setzero_ps();
  return _mm512_max_ps(_mm512_max_ps(_mm512_loadu_ps(p), zero), _mm512_max_ps(_mm512_loadu_ps(p + 16), zero));
}

/* The lane maxima of 16 panels' vectors in one vector, lane i for panel i: pairs of vectors
 * folded by halves, quarters, pairs and single lanes (each fold keeps both inputs' partial
 * maxima), then the lanes put back in panel order. */
ATTNC_VNNI static ALWAYS_INLINE __m512 panel_tops16_avx512(__m512 m[16]) {
  __m512 a[8], b[4], c[2];
  for (int k = 0; k < 8; k++)
    a[k] = _mm512_max_ps(_mm512_shuffle_f32x4(m[2 * k], m[2 * k + 1], 0x44), _mm512_shuffle_f32x4(m[2 * k], m[2 * k + 1], 0xEE));
  for (int k = 0; k < 4; k++)
    b[k] = _mm512_max_ps(_mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0x88), _mm512_shuffle_f32x4(a[2 * k], a[2 * k + 1], 0xDD));
  for (int k = 0; k < 2; k++)
    c[k] = _mm512_max_ps(_mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0x44), _mm512_shuffle_ps(b[2 * k], b[2 * k + 1], 0xEE));
  const __m512 folded = _mm512_max_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xDD));
  /* folded holds panels 0, 4, 8, 12, 1, 5, … (the permutation is its own inverse) */
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), folded);
}

/* The plain C kernel's bytes and factors. Sixteen panels at a time: their largest probabilities
 * in one vector (no horizontal reduction per panel) and their 255/top and top/255 by vector
 * division (the same IEEE quotients as the scalar ones); the rest panel by panel. */
ATTNC_VNNI static void quantize_probabilities_avx512(const float *strip, int rows, long width, long stride, void *out) {
  float *factors = panel_factors(out, STRIP, stride);
  const __m512 largest = _mm512_set1_ps(255.0f);
  for (int r = 0; r < rows; r++) {
    const float *row = strip + r * stride;
    uint8_t *bytes = (uint8_t *)out + r * stride;
    float *row_factors = factors + r * (stride / W);
    long j = 0;
    for (; j + 16 * W <= width; j += 16 * W) {
      __m512 m[16];
      for (int i = 0; i < 16; i++) m[i] = panel_top_avx512(row + j + i * W);
      const __m512 tops = panel_tops16_avx512(m);
      float inverses[16];
      _mm512_storeu_ps(inverses, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(tops, _mm512_setzero_ps(), _CMP_GT_OQ), largest, tops));
      _mm512_storeu_ps(row_factors + j / W, _mm512_div_ps(tops, largest));
      for (int i = 0; i < 16; i++) quantize_panel_avx512(row + j + i * W, _mm512_set1_ps(inverses[i]), bytes + j + i * W);
    }
    for (; j < width; j += W) {
      const float top = _mm512_reduce_max_ps(panel_top_avx512(row + j));
      quantize_panel_avx512(row + j, _mm512_set1_ps(top > 0 ? 255.0f / top : 0), bytes + j);
      row_factors[j / W] = top / 255.0f;
    }
  }
}

/* `vectors` (1 or 2) of 16 value columns for `rows` (at most 6) rows, the last vector's lanes
 * masked by `tail`: per panel of 32 keys, eight groups of four keys, each one or two loads of V, a
 * broadcast of each row's four probability bytes and vpdpbusd into int32; then the panel's sum in
 * float times the row's panel factor. */
ATTNC_VNNI static ALWAYS_INLINE void pv_rows_vnni(int rows, int vectors, __mmask16 tail, const float *p, long p_stride,
                                                  const float *factors, long factor_stride, const float *v, long columns,
                                                  long groups, float *y, long value_depth, const float *corrections) {
  __m512 sum[6][2];
  for (int r = 0; r < rows; r++) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
  for (long first = 0; first < groups; first += W / 4) {
    __m512i acc[6][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const long last = first + W / 4 < groups ? first + W / 4 : groups;
    for (long g = first; g < last; g++) {
      const __m512i v0 = _mm512_loadu_si512(v + g * columns);
      const __m512i v1 = vectors == 2 ? _mm512_loadu_si512(v + g * columns + 16) : v0;
      for (int r = 0; r < rows; r++) {
        int32_t four;
        memcpy(&four, p + r * p_stride + g, 4);
        const __m512i x = _mm512_set1_epi32(four);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, v0);
        if (vectors == 2) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, v1);
      }
    }
    for (int r = 0; r < rows; r++) {
      const __m512 factor = _mm512_set1_ps(factors[r * factor_stride + first / (W / 4)]);
      sum[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][0]), factor, sum[r][0]);
      if (vectors == 2) sum[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][1]), factor, sum[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    float *out = y + r * value_depth;
    const __m512 c = _mm512_set1_ps(corrections[r]);
    const __mmask16 first = vectors == 2 ? (__mmask16)0xFFFF : tail;
    _mm512_mask_storeu_ps(out, first, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(first, out), c, sum[r][0]));
    if (vectors == 2) _mm512_mask_storeu_ps(out + 16, tail, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, out + 16), c, sum[r][1]));
  }
}

/* The value columns in chunks of 32, the last chunk's rest masked. */
ATTNC_VNNI static ALWAYS_INLINE void pv_columns_vnni(int rows, const float *p, long p_stride, const float *factors,
                                                     long factor_stride, const float *v, long value_depth, long count,
                                                     float *y, const float *corrections) {
  const long columns = attnc_attention_int8_value_columns(value_depth), groups = quads_of(count);
  for (long c = 0; c < value_depth; c += 32) {
    const long rest = value_depth - c;
    if (rest > 16) {
      const __mmask16 tail = rest >= 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (rest - 16)) - 1);
      pv_rows_vnni(rows, 2, tail, p, p_stride, factors, factor_stride, v + c, columns, groups, y + c, value_depth, corrections);
    } else {
      pv_rows_vnni(rows, 1, (__mmask16)((1u << rest) - 1), p, p_stride, factors, factor_stride, v + c, columns, groups, y + c,
                   value_depth, corrections);
    }
  }
}

/* Six rows at a time: 12 int32 and 12 float accumulators. */
ATTNC_VNNI static void pv_strip_vnni(int rows, const float *p, long p_stride, const float *v, long value_depth, long count,
                                     float *y, const float *corrections) {
  const float *factors = panel_factors((void *)p, STRIP, 4 * p_stride);
  const long factor_stride = p_stride / 8;
  for (int first = 0; first < rows; first += 6) {
    const int n = rows - first < 6 ? rows - first : 6;
    const float *pr = p + first * p_stride, *fr = factors + first * factor_stride;
    float *yr = y + first * value_depth;
    ATTNC_ROW_DISPATCH_6(n, pv_columns_vnni, pr, p_stride, fr, factor_stride, v, value_depth, count, yr, corrections + first);
  }
}
#endif

/* The AVX-512 (VNNI) kernel where attnc_attention_int8_native(), else the plain C one. */
#ifdef ATTNC_X86
#define WIDEST_OR_PORTABLE(widest, portable) (attnc_attention_int8_native() ? (widest) : (portable))
#else
#define WIDEST_OR_PORTABLE(widest, portable) (portable)
#endif

void attnc_attention_int8_quantize_probabilities_native(const float *strip, int rows, long width, long stride, void *out) {
  WIDEST_OR_PORTABLE(quantize_probabilities_avx512, attnc_attention_int8_quantize_probabilities_portable)(strip, rows, width, stride, out);
}

void attnc_attention_int8_pv_strip_native(int rows, const float *p, long p_stride, const float *v, long value_depth, long count,
                                          float *y, const float *corrections) {
  WIDEST_OR_PORTABLE(pv_strip_vnni, attnc_attention_int8_pv_strip_portable)(rows, p, p_stride, v, value_depth, count, y, corrections);
}

int attnc_attention_int8_native(void) {
#ifdef ATTNC_X86
  return attnc_qgemm_uses_vnni();
#else
  return 0;
#endif
}

void attnc_attention_int8_qk_strip_native(int rows, const float *q, long depth, const float *packed, long panels,
                                          float scale, float *strip, long stride) {
  WIDEST_OR_PORTABLE(qk_strip_vnni, attnc_attention_int8_qk_strip_portable)(rows, q, depth, packed, panels, scale, strip, stride);
}
