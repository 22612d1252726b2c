#include "attnc_layer_norm.h"

#include "attnc_vector_math.h"
#include "avx2_dispatch.h"

#include <math.h>

#if defined(__x86_64__)
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The mean of x[0..n). The partial sums are eight independent chains (a single running sum
 * waits on each add); the compiler turns the fixed-width inner loops into vector code for the
 * target. */
static ALWAYS_INLINE float row_mean(const float *x, long n) {
  float partial[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) partial[l] += x[i + l];
  float sum = 0;
  for (; i < n; i++) sum += x[i];
  for (int l = 0; l < 8; l++) sum += partial[l];
  return sum / (float)n;
}

/* One row, with eight partial sums of squares as row_mean. */
static ALWAYS_INLINE void normalize_row(const float *x, float *y, long n, const float *gamma, const float *beta,
                                        float epsilon, int rms, float *mean_out, float *inverse_out) {
  float mean = rms ? 0 : row_mean(x, n);
  float partial[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) {
      float d = x[i + l] - mean;
      partial[l] += d * d;
    }
  float squares = 0;
  for (; i < n; i++) squares += (x[i] - mean) * (x[i] - mean);
  for (int l = 0; l < 8; l++) squares += partial[l];
  float inverse = 1 / sqrtf(squares / (float)n + epsilon);
  if (beta) {
    for (long j = 0; j < n; j++) y[j] = (x[j] - mean) * inverse * gamma[j] + beta[j];
  } else {
    for (long j = 0; j < n; j++) y[j] = (x[j] - mean) * inverse * gamma[j];
  }
  if (mean_out) *mean_out = mean;
  if (inverse_out) *inverse_out = inverse;
}

static void rows_generic(const float *x, float *y, long rows, long inner, const float *gamma, const float *beta,
                         float epsilon, int rms, float *means, float *inverses) {
  for (long r = 0; r < rows; r++) {
    normalize_row(x + r * inner, y + r * inner, inner, gamma, beta, epsilon, rms, means ? means + r : 0,
                  inverses ? inverses + r : 0);
  }
}

#ifdef ATTNC_AVX2
/* rows_generic compiled for AVX2/FMA (the same source, 8-wide vector code). */
ATTNC_AVX2 static void rows_avx2(const float *x, float *y, long rows, long inner, const float *gamma, const float *beta,
                                 float epsilon, int rms, float *means, float *inverses) {
  for (long r = 0; r < rows; r++) {
    normalize_row(x + r * inner, y + r * inner, inner, gamma, beta, epsilon, rms, means ? means + r : 0,
                  inverses ? inverses + r : 0);
  }
}
#endif

void attnc_layer_norm(const float *x, float *y, long rows, long inner, const float *gamma, const float *beta,
                      float epsilon, int rms, float *means, float *inverses) {
  ATTNC_AVX2_OR_PORTABLE(rows_avx2(x, y, rows, inner, gamma, beta, epsilon, rms, means, inverses),
                         rows_generic(x, y, rows, inner, gamma, beta, epsilon, rms, means, inverses));
}

/* One row of attnc_center_rows. */
static ALWAYS_INLINE float center_row(const float *x, float *y, long n) {
  const float mean = row_mean(x, n);
  float squares[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) {
      float d = x[i + l] - mean;
      y[i + l] = d;
      squares[l] += d * d;
    }
  float total = 0;
  for (; i < n; i++) {
    float d = x[i] - mean;
    y[i] = d;
    total += d * d;
  }
  for (int l = 0; l < 8; l++) total += squares[l];
  return sqrtf(total);
}

static void center_generic(const float *x, long x_stride, float *y, long rows, long depth, float *norms) {
  for (long r = 0; r < rows; r++) norms[r] = center_row(x + r * x_stride, y + r * depth, depth);
}

static void scale_generic(float *x, long n, float factor) {
  for (long i = 0; i < n; i++) x[i] *= factor;
}

#ifdef ATTNC_AVX2
/* center_generic and scale_generic compiled for AVX2/FMA. */
ATTNC_AVX2 static void center_avx2(const float *x, long x_stride, float *y, long rows, long depth, float *norms) {
  for (long r = 0; r < rows; r++) norms[r] = center_row(x + r * x_stride, y + r * depth, depth);
}

ATTNC_AVX2 static void scale_avx2(float *x, long n, float factor) {
  for (long i = 0; i < n; i++) x[i] *= factor;
}
#endif

void attnc_center_rows(const float *x, long x_stride, float *y, long rows, long depth, float *norms) {
  ATTNC_AVX2_OR_PORTABLE(center_avx2(x, x_stride, y, rows, depth, norms), center_generic(x, x_stride, y, rows, depth, norms));
}

void attnc_scale(float *x, long n, float factor) {
  ATTNC_AVX2_OR_PORTABLE(scale_avx2(x, n, factor), scale_generic(x, n, factor));
}
