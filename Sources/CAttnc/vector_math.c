#include "attnc_vector_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#endif

#include "avx2_dispatch.h"
#include "exp_reduction_avx2.h"

/* e^x for one float: x = n·ln2 + r, e^r by a degree-7 polynomial, 2^n from the exponent bits
 * (as two factors so that n in -126..128 stays normal). Matches VectorMath.exp. */
static inline float exp_scalar(float x) {
  float c = x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x);
  float t = c * 1.44269504088896341f + 12582912.0f;
  float n = t - 12582912.0f;
  float r = c - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  uint32_t bits;
  memcpy(&bits, &t, 4);
  int32_t n0 = (int32_t)(bits - 0x4B400000u);
  int32_t n1 = n0 >> 1, n2 = n0 - n1;
  uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, 4);
  memcpy(&s2, &b2, 4);
  float result = p * s1 * s2;
  return x < -87.33654f ? 0.0f : (x > 88.72283f ? INFINITY : (x != x ? x : result));
}


static inline float erf_scalar(float x) {
  float a = fabsf(x);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  float large = 1.0f - p * t * exp_scalar(-a * a);
  float x2 = x * x;
  float s = -1.0f / 1320;
  s = s * x2 + 1.0f / 216;
  s = s * x2 - 1.0f / 42;
  s = s * x2 + 1.0f / 10;
  s = s * x2 - 1.0f / 3;
  s = s * x2 + 1.0f;
  float small = 1.1283791670955126f * x * s;
  return a < 0.5f ? small : (x < 0 ? -large : large);
}

static inline float tanh_scalar(float x) {
  float a = fabsf(x);
  float large = 1.0f - 2.0f / (exp_scalar(2.0f * a) + 1.0f);
  float x2 = x * x;
  float s = 62.0f / 2835;
  s = s * x2 - 17.0f / 315;
  s = s * x2 + 2.0f / 15;
  s = s * x2 - 1.0f / 3;
  float small = x + x * x2 * s;
  return a < 0.3f ? small : (x < 0 ? -large : large);
}

static void gelu_generic(const float *x, float *y, long n, int use_tanh) {
  if (use_tanh) {
    for (long i = 0; i < n; i++) {
      float v = x[i];
      y[i] = 0.5f * v * (1.0f + tanh_scalar(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    }
  } else {
    for (long i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erf_scalar(x[i] * 0.7071067811865476f));
  }
}

/* 1/(1 + e^-x) as e/(1 + e) or 1/(1 + e) with e = e^-|x| ≤ 1: no overflow, and the small
 * values for very negative x keep their relative accuracy. */
static inline float sigmoid_scalar(float x) {
  float e = exp_scalar(-fabsf(x));
  float r = 1.0f / (1.0f + e);
  return x < 0 ? e * r : r;
}

static void sigmoid_generic(const float *x, float *y, long n) {
  for (long i = 0; i < n; i++) y[i] = sigmoid_scalar(x[i]);
}

static float row_max_generic(const float *x, long n) {
  float m0 = -INFINITY, m1 = -INFINITY, m2 = -INFINITY, m3 = -INFINITY;
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    m0 = x[i] > m0 ? x[i] : m0;
    m1 = x[i + 1] > m1 ? x[i + 1] : m1;
    m2 = x[i + 2] > m2 ? x[i + 2] : m2;
    m3 = x[i + 3] > m3 ? x[i + 3] : m3;
  }
  for (; i < n; i++) m0 = x[i] > m0 ? x[i] : m0;
  m0 = m1 > m0 ? m1 : m0;
  m2 = m3 > m2 ? m3 : m2;
  return m2 > m0 ? m2 : m0;
}

float attnc_exp_shift_sum_portable(float *x, long n, float shift) {
  float sum = 0;
  for (long i = 0; i < n; i++) {
    x[i] = exp_scalar(x[i] - shift);
    sum += x[i];
  }
  return sum;
}

#ifdef ATTNC_X86
__attribute__((target("avx2,fma"))) static float row_max_avx2(const float *x, long n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  long i = 0;
  /* max_ps returns the second operand when either is NaN: keep the running max second. */
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  float result = -INFINITY;
  for (int k = 0; k < 8; k++) result = lanes[k] > result ? lanes[k] : result;
  for (; i < n; i++) result = x[i] > result ? x[i] : result;
  return result;
}

__attribute__((target("avx2,fma"))) static inline __m256 exp_avx2(__m256 x) {
  const __m256 low = _mm256_set1_ps(-87.33654f), high = _mm256_set1_ps(88.72283f);
  __m256 c = _mm256_min_ps(_mm256_max_ps(x, low), high);
  __m256 t;
  __m256 p = attnc_exp_reduced_avx2(c, &t);
  __m256i n0 = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
  __m256i n1 = _mm256_srai_epi32(n0, 1), n2 = _mm256_sub_epi32(n0, n1);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
  __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  result = _mm256_blendv_ps(result, _mm256_setzero_ps(), _mm256_cmp_ps(x, low, _CMP_LT_OQ));
  result = _mm256_blendv_ps(result, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, high, _CMP_GT_OQ));
  return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

__attribute__((target("avx2,fma"))) static float exp_shift_sum_avx2(float *x, long n, float shift) {
  __m256 s = _mm256_set1_ps(shift), total = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(x + i, e);
    total = _mm256_add_ps(total, e);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, total);
  float sum = 0;
  for (int k = 0; k < 8; k++) sum += lanes[k];
  for (; i < n; i++) {
    x[i] = exp_scalar(x[i] - shift);
    sum += x[i];
  }
  return sum;
}


__attribute__((target("avx2,fma"))) static inline __m256 abs_avx2(__m256 x) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
}

/* copysign(magnitude, sign of x) */
__attribute__((target("avx2,fma"))) static inline __m256 with_sign_avx2(__m256 magnitude, __m256 x) {
  return _mm256_or_ps(magnitude, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
}

__attribute__((target("avx2,fma"))) static inline __m256 erf_avx2(__m256 x) {
  __m256 a = abs_avx2(x);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  __m256 e = attnc_exp_nonpositive_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
  __m256 large = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, _mm256_set1_ps(1.0f));
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 s = _mm256_set1_ps(-1.0f / 1320);
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(1.0f / 216));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-1.0f / 42));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(1.0f / 10));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-1.0f / 3));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(1.0f));
  __m256 small = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(1.1283791670955126f), x), s);
  return _mm256_blendv_ps(with_sign_avx2(large, x), small, _mm256_cmp_ps(a, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
}

__attribute__((target("avx2,fma"))) static inline __m256 tanh_avx2(__m256 x) {
  __m256 a = abs_avx2(x);
  /* 1 − 2/(e^{2a} + 1) = (1 − e^{−2a})/(1 + e^{−2a}): the exponential of a non-positive number. */
  __m256 e = attnc_exp_nonpositive_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_add_ps(a, a)));
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 large = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  __m256 x2 = _mm256_mul_ps(x, x);
  __m256 s = _mm256_set1_ps(62.0f / 2835);
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-17.0f / 315));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(2.0f / 15));
  s = _mm256_fmadd_ps(s, x2, _mm256_set1_ps(-1.0f / 3));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, x2), s, x);
  return _mm256_blendv_ps(with_sign_avx2(large, x), small, _mm256_cmp_ps(a, _mm256_set1_ps(0.3f), _CMP_LT_OQ));
}

/* GELU's Φ(x) = (1 + erf(x/√2))/2 from erf's formula (A&S 7.1.26) as h = p(t)·t·e^{−a²}/2,
 * a = |x|/√2: Φ = h for negative x and 1 − h otherwise, so the tail x → −∞ keeps its relative
 * accuracy (1 + erf there cancels), and no branch for small |x| is needed (the formula's absolute
 * error, 1.5e-7, is what GELU's x·Φ can afford). t = 1/(1 + 0.3275911a) by a reciprocal estimate
 * and a Newton step. */
__attribute__((target("avx2,fma"))) static inline __m256 phi_avx2(__m256 v) {
  const __m256 one = _mm256_set1_ps(1.0f);
  /* a at most 10 (Φ is 1 or 0 in float long before): the Newton step stays finite at ±inf */
  __m256 a = _mm256_min_ps(_mm256_mul_ps(abs_avx2(v), _mm256_set1_ps(0.7071067811865476f)), _mm256_set1_ps(10.0f));
  __m256 d = _mm256_fmadd_ps(a, _mm256_set1_ps(0.3275911f), one);
  __m256 t = _mm256_rcp_ps(d);
  t = _mm256_mul_ps(t, _mm256_fnmadd_ps(d, t, _mm256_set1_ps(2.0f)));
  t = _mm256_mul_ps(t, _mm256_fnmadd_ps(d, t, _mm256_set1_ps(2.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f / 2);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f / 2));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f / 2));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f / 2));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f / 2));
  __m256 e = attnc_exp_nonpositive_avx2(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), a));
  __m256 h = _mm256_mul_ps(_mm256_mul_ps(p, t), e);
  return _mm256_blendv_ps(_mm256_sub_ps(one, h), h, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
}

__attribute__((target("avx2,fma"))) static void gelu_avx2(const float *x, float *y, long n, int use_tanh) {
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (use_tanh) {
      __m256 cube = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
      __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(cube, _mm256_set1_ps(0.044715f), v));
      __m256 phi = _mm256_add_ps(one, tanh_avx2(u));
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(half, v), phi));
    } else {
      _mm256_storeu_ps(y + i, _mm256_mul_ps(v, phi_avx2(v)));
    }
  }
  gelu_generic(x + i, y + i, n - i, use_tanh);
}

__attribute__((target("avx2,fma"))) static void sigmoid_avx2(const float *x, float *y, long n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 e = attnc_exp_nonpositive_avx2(_mm256_sub_ps(_mm256_setzero_ps(), abs_avx2(v)));
    __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_blendv_ps(r, _mm256_mul_ps(e, r), _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ)));
  }
  sigmoid_generic(x + i, y + i, n - i);
}

/* erf_avx2, tanh_avx2 and gelu_avx2 at 16 lanes (the same formulas). */
__attribute__((target("avx512f,avx2,fma"))) static inline __m512 erf_avx512(__m512 x) {
  __m512 a = _mm512_abs_ps(x);
  __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  __m512 e = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(a, a)));
  __m512 large = _mm512_fnmadd_ps(_mm512_mul_ps(p, t), e, _mm512_set1_ps(1.0f));
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 s = _mm512_set1_ps(-1.0f / 1320);
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(1.0f / 216));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-1.0f / 42));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(1.0f / 10));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-1.0f / 3));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(1.0f));
  __m512 small = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(1.1283791670955126f), x), s);
  /* copysign(large, x); a NaN x stays NaN through a. */
  __m512 signed_large = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(large), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ), signed_large, small);
}

__attribute__((target("avx512f,avx2,fma"))) static inline __m512 tanh_avx512(__m512 x) {
  __m512 a = _mm512_abs_ps(x);
  __m512 e = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_add_ps(a, a)));
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 large = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  __m512 x2 = _mm512_mul_ps(x, x);
  __m512 s = _mm512_set1_ps(62.0f / 2835);
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-17.0f / 315));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(2.0f / 15));
  s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-1.0f / 3));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(x, x2), s, x);
  __m512 signed_large = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_castps_si512(large), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.3f), _CMP_LT_OQ), signed_large, small);
}

/* phi_avx2 at 16 lanes (vrcp14ps and one Newton step). */
__attribute__((target("avx512f,avx2,fma"))) static inline __m512 phi_avx512(__m512 v) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 a = _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(v), _mm512_set1_ps(0.7071067811865476f)), _mm512_set1_ps(10.0f));
  __m512 d = _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one);
  __m512 t = _mm512_rcp14_ps(d);
  t = _mm512_mul_ps(t, _mm512_fnmadd_ps(d, t, _mm512_set1_ps(2.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f / 2);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f / 2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f / 2));
  __m512 e = attnc_exp_nonpositive_avx512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
  __m512 h = _mm512_mul_ps(_mm512_mul_ps(p, t), e);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_sub_ps(one, h), h);
}

__attribute__((target("avx512f,avx2,fma"))) static void gelu_avx512(const float *x, float *y, long n, int use_tanh) {
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    if (use_tanh) {
      __m512 cube = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
      __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(cube, _mm512_set1_ps(0.044715f), v));
      __m512 phi = _mm512_add_ps(one, tanh_avx512(u));
      _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_mul_ps(half, v), phi));
    } else {
      _mm512_storeu_ps(y + i, _mm512_mul_ps(v, phi_avx512(v)));
    }
  }
  gelu_avx2(x + i, y + i, n - i, use_tanh);
}

__attribute__((target("avx512f,avx2,fma"))) static void sigmoid_avx512(const float *x, float *y, long n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    __m512 e = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(v)));
    __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e));
    __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    _mm512_storeu_ps(y + i, _mm512_mask_mul_ps(r, negative, e, r));
  }
  sigmoid_avx2(x + i, y + i, n - i);
}

static int has_avx512(void) {
  static int state = -1;
  if (state < 0) {
    __builtin_cpu_init();
    state = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return state;
}

static int has_avx2(void) {
  static int state = -1;
  if (state < 0) {
    __builtin_cpu_init();
    state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return state;
}
#endif

float attnc_row_max(const float *x, long n) {
#ifdef ATTNC_X86
  if (has_avx2()) return row_max_avx2(x, n);
#endif
  return row_max_generic(x, n);
}

float attnc_exp_shift_sum(float *x, long n, float shift) {
#ifdef ATTNC_X86
  if (has_avx2()) return exp_shift_sum_avx2(x, n, shift);
#endif
  return attnc_exp_shift_sum_portable(x, n, shift);
}

float attnc_exp(float x) { return exp_scalar(x); }

static void softcap_generic(float *x, long n, float cap) {
  float inverse = 1.0f / cap;
  for (long i = 0; i < n; i++) x[i] = cap * tanh_scalar(x[i] * inverse);
}

#ifdef ATTNC_X86
__attribute__((target("avx2,fma"))) static void softcap_avx2(float *x, long n, float cap) {
  const __m256 c = _mm256_set1_ps(cap), inverse = _mm256_set1_ps(1.0f / cap);
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(x + i, _mm256_mul_ps(c, tanh_avx2(_mm256_mul_ps(_mm256_loadu_ps(x + i), inverse))));
  }
  softcap_generic(x + i, n - i, cap);
}
#endif

void attnc_softcap(float *x, long n, float cap) {
  ATTNC_AVX2_OR_PORTABLE(softcap_avx2(x, n, cap), softcap_generic(x, n, cap));
}

void attnc_gelu_limited(const float *x, float *y, long n, int use_tanh, int limit) {
#ifdef ATTNC_X86
  if (limit == ATTNC_VECTOR_WIDEST && has_avx512()) {
    gelu_avx512(x, y, n, use_tanh);
    return;
  }
  if (limit != ATTNC_VECTOR_PORTABLE && has_avx2()) {
    gelu_avx2(x, y, n, use_tanh);
    return;
  }
#endif
  gelu_generic(x, y, n, use_tanh);
}

void attnc_gelu(const float *x, float *y, long n, int use_tanh) { attnc_gelu_limited(x, y, n, use_tanh, ATTNC_VECTOR_WIDEST); }

void attnc_sigmoid_limited(const float *x, float *y, long n, int limit) {
#ifdef ATTNC_X86
  if (limit == ATTNC_VECTOR_WIDEST && has_avx512()) {
    sigmoid_avx512(x, y, n);
    return;
  }
  if (limit != ATTNC_VECTOR_PORTABLE && has_avx2()) {
    sigmoid_avx2(x, y, n);
    return;
  }
#endif
  sigmoid_generic(x, y, n);
}

void attnc_sigmoid(const float *x, float *y, long n) { attnc_sigmoid_limited(x, y, n, ATTNC_VECTOR_WIDEST); }

int attnc_vector_math_uses_avx512(void) {
#ifdef ATTNC_X86
  return has_avx512();
#else
  return 0;
#endif
}

int attnc_vector_math_uses_avx2(void) {
#ifdef ATTNC_X86
  return has_avx2();
#else
  return 0;
#endif
}

#if defined(__x86_64__)
/* Eight inputs a step: spread over the even lanes of 16 (vexpandps) and stored by a mask of those
 * lanes, so the odd outputs, another phase's, are not touched. */
__attribute__((target("avx512f,avx2,fma"))) static long store_every_other_avx512(const float *x, long n, float add, int relu,
                                                                                 float *y) {
  const __m512 shift = _mm512_set1_ps(add), zero = _mm512_setzero_ps();
  long j = 0;
  for (; j + 8 <= n; j += 8) {
    __m512 v = _mm512_add_ps(_mm512_maskz_expandloadu_ps((__mmask16)0x5555, x + j), shift);
    if (relu) v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LE_OQ), zero); /* as 0 >= v ? 0 : v */
    _mm512_mask_storeu_ps(y + 2 * j, (__mmask16)0x5555, v);
  }
  return j;
}
#endif

void attnc_store_strided(const float *x, long n, float add, int relu, float *y, long step) {
  long j = 0;
#if defined(__x86_64__)
  if (step == 2 && has_avx512()) j = store_every_other_avx512(x, n, add, relu, y);
#endif
  for (; j < n; j++) {
    const float v = x[j] + add;
    y[j * step] = relu && 0 >= v ? 0 : v; /* Swift's max(v, 0): NaN stays, −0 becomes +0 */
  }
}
