/* The shared core of the AVX2 e^x loops (vector_math.c, attention_tile.c): for c, x already
 * clamped to [-87.34, 88.72], writes t = c·log2(e) + 1.5·2^23 (its low bits hold n = round(c/ln 2))
 * and returns e^r for r = c − n·ln 2 (Cody–Waite, two steps), by a degree-7 polynomial. Each
 * caller builds 2^n from t in the form its range needs. */
#ifndef ATTNC_EXP_REDUCTION_AVX2_H
#define ATTNC_EXP_REDUCTION_AVX2_H

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static inline __m256 attnc_exp_reduced_avx2(__m256 c, __m256 *t) {
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  *t = _mm256_fmadd_ps(c, _mm256_set1_ps(1.44269504088896341f), magic);
  __m256 n = _mm256_sub_ps(*t, magic);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), c);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  return _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
}

/* e^x for x ≤ 0, −inf or NaN (scores minus their maximum, −x², −2|x|): the polynomial above;
 * 2^n is one normal factor since n ≥ −126 here. Below −87.33654 gives 0, NaN stays NaN. Cheaper
 * than a full-range e^x: no overflow to guard, one scale. */
__attribute__((target("avx2,fma"))) static inline __m256 attnc_exp_nonpositive_avx2(__m256 x) {
  const __m256 low = _mm256_set1_ps(-87.33654f);
  __m256 c = _mm256_max_ps(low, x);
  __m256 t;
  __m256 p = attnc_exp_reduced_avx2(c, &t);
  __m256i bits = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000 - 127));
  __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
  /* Below low gives 0; NaN went through every step (max_ps returns its second operand when
   * either is NaN) and is kept. */
  return _mm256_and_ps(result, _mm256_cmp_ps(x, low, _CMP_NLT_UQ));
}

/* attnc_exp_nonpositive_avx2, 16 wide (the reduction above at AVX-512 width); vscalefps
 * multiplies by 2^n exactly as the exponent bits do. */
__attribute__((target("avx512f,avx2,fma"))) static inline __m512 attnc_exp_nonpositive_avx512(__m512 x) {
  const __m512 low = _mm512_set1_ps(-87.33654f);
  __m512 c = _mm512_max_ps(low, x);
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  __m512 t = _mm512_fmadd_ps(c, _mm512_set1_ps(1.44269504088896341f), magic);
  __m512 n = _mm512_sub_ps(t, magic);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), c);
  r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, low, _CMP_NLT_UQ), _mm512_scalef_ps(p, n));
}
#endif

#endif
