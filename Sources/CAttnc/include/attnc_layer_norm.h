#ifndef ATTNC_LAYER_NORM_H
#define ATTNC_LAYER_NORM_H

/* Layer normalisation of `rows` rows of `inner` floats (LinearAlgebra.layerNorm):
 * y = (x − mean)·inv·gamma + beta with inv = 1/√(mean of (x − mean)² + epsilon); with rms != 0
 * the mean is taken as 0 (RMSNormalization). beta may be NULL. y may be x (in place). When means
 * and inverses are not NULL they receive each row's mean and inv. 8-wide AVX2/FMA where the
 * machine has it (chosen at run time), plain C otherwise; sums use 8 partial sums either way. */
void attnc_layer_norm(const float *x, float *y, long rows, long inner, const float *gamma, const float *beta,
                      float epsilon, int rms, float *means, float *inverses);

/* Centres rows: y[r] = x[r] − mean(x[r]) for `rows` rows of `depth` floats (x rows `x_stride`
 * floats apart, y rows packed), and norms[r] = |y[r]| (Fastmax's token normalisation). Sums use
 * 8 partial sums; 8-wide AVX2/FMA where the machine has it. */
void attnc_center_rows(const float *x, long x_stride, float *y, long rows, long depth, float *norms);

/* x[i] *= factor for i in [0, n). */
void attnc_scale(float *x, long n, float factor);

#endif
