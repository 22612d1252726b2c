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

static int finite_row(const float *x, long n) {
  for (long t = 0; t < n; t++) {
    if (!isfinite(x[t])) return 0;
  }
  return 1;
}

void attnc_attention_int8_pack_keys(const float *k, long keys, long depth, int smooth, float *packed) {
  const long quads = quads_of(depth), panels = (keys + W - 1) / W;
  float mean[depth > 0 ? depth : 1];
  for (long t = 0; t < depth; t++) {
    double sum = 0;
    long count = 0;
    for (long j = 0; smooth && j < keys; j++) {
      if (isfinite(k[j * depth + t])) sum += k[j * depth + t], count++;
    }
    mean[t] = count > 0 ? (float)(sum / (double)count) : 0;
  }
  for (long p = 0; p < panels; p++) {
    float *panel = packed + p * panel_units(depth);
    int8_t *bytes = (int8_t *)panel;
    int32_t *offsets = (int32_t *)(panel + quads * W);
    float *scales = panel + quads * W + W;
    float top = 0;
    for (long c = 0; c < W && p * W + c < keys; c++) {
      const float *key = k + (p * W + c) * depth;
      if (!finite_row(key, depth)) continue;
      for (long t = 0; t < depth; t++) top = fmaxf(top, fabsf(key[t] - mean[t]));
    }
    const float inverse = top > 0 ? 127.0f / top : 0, scale = top / 127.0f;
    for (long c = 0; c < W; c++) {
      const long j = p * W + c;
      const int live = j < keys && finite_row(k + j * depth, depth);
      int32_t sum = 0;
      for (long t = 0; t < 4 * quads; t++) {
        int8_t x = live && t < depth ? quantized(k[j * depth + t] - mean[t], inverse) : 0;
        bytes[((t / 4) * W + c) * 4 + t % 4] = x;
        sum += x;
      }
      offsets[c] = 128 * sum;
      scales[c] = j >= keys ? 0 : live ? scale : NAN;
    }
  }
}

void attnc_attention_int8_quantize_queries(const float *q, long rows, long depth, float *out) {
  const long quads = quads_of(depth), units = quads + 1;
  for (long first = 0; first < rows; first += QUERY_ROWS) {
    const long last = first + QUERY_ROWS < rows ? first + QUERY_ROWS : rows;
    float top = 0;
    for (long r = first; r < last; r++) {
      if (!finite_row(q + r * depth, depth)) continue;
      for (long t = 0; t < depth; t++) top = fmaxf(top, fabsf(q[r * depth + t]));
    }
    const float inverse = top > 0 ? 127.0f / top : 0, scale = top / 127.0f;
    for (long r = first; r < last; r++) {
      const int live = finite_row(q + r * depth, depth);
      uint8_t *bytes = (uint8_t *)(out + r * units);
      for (long t = 0; t < 4 * quads; t++) {
        bytes[t] = (uint8_t)(128 + (live && t < depth ? quantized(q[r * depth + t], inverse) : 0));
      }
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

int attnc_attention_int8_native(void) {
#ifdef ATTNC_X86
  return attnc_qgemm_uses_vnni();
#else
  return 0;
#endif
}

void attnc_attention_int8_qk_strip_native(int rows, const float *q, long depth, const float *packed, long panels,
                                          float scale, float *strip, long stride) {
#ifdef ATTNC_X86
  if (attnc_attention_int8_native()) {
    qk_strip_vnni(rows, q, depth, packed, panels, scale, strip, stride);
    return;
  }
#endif
  attnc_attention_int8_qk_strip_portable(rows, q, depth, packed, panels, scale, strip, stride);
}
