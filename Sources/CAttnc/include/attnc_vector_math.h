#ifndef ATTNC_VECTOR_MATH_H
#define ATTNC_VECTOR_MATH_H

/* The softmax row loops of attnc's attention kernels, in C so that they can use 8-wide AVX2/FMA
 * on machines that have it (chosen at run time; SSE2 code otherwise). Swift code is compiled for
 * the baseline x86-64 target, whose loops are only 4 wide. */

/* The largest element of x[0..n); NaN elements are skipped (a NaN still reaches the result of
 * a softmax through the exponentials). -INFINITY for n == 0. */
float attnc_row_max(const float *x, long n);

/* x[i] = e^(x[i] - shift) for i in [0, n), with the same polynomial as VectorMath.exp
 * (Cephes, within 2 ulp); returns the sum of the results. */
float attnc_exp_shift_sum(float *x, long n, float shift);

/* attnc_exp_shift_sum in plain C whatever the machine (the vector loops' tails, and the
 * portable attention kernels that tests compare with the vector ones). */
float attnc_exp_shift_sum_portable(float *x, long n, float shift);

/* e^x by the polynomial of attnc_exp_shift_sum (VectorMath.exp). */
float attnc_exp(float x);

/* x[i] = cap·tanh(x[i] / cap) for i in [0, n) (attention softcap; tanh as VectorMath.tanh). */
void attnc_softcap(float *x, long n, float cap);

/* y[i] = GELU(x[i]) = x·Φ(x): with erf (use_tanh = 0) or the tanh approximation, by the same
 * formulas as VectorMath.gelu (erf: Taylor below |x| = 0.5, Abramowitz–Stegun 7.1.26 above;
 * tanh: Taylor below 0.3, 1 − 2/(e^{2|u|} + 1) above). */
void attnc_gelu(const float *x, float *y, long n, int use_tanh);

/* Which instruction sets a limited call may use: the widest the machine runs (AVX-512, AVX2), at
 * most AVX2, or plain C (tests compare all three on one machine). */
enum { ATTNC_VECTOR_WIDEST = 0, ATTNC_VECTOR_AVX2 = 1, ATTNC_VECTOR_PORTABLE = 2 };

/* attnc_gelu with the instruction sets limited to `limit` (16-wide AVX-512 where allowed and
 * present). */
void attnc_gelu_limited(const float *x, float *y, long n, int use_tanh, int limit);

/* y[i] = 1/(1 + e^-x[i]) (Sigmoid), as e/(1 + e) for negative x and 1/(1 + e) otherwise with
 * e = e^-|x| by the polynomial of attnc_exp: within 3 ulp of the exact value, 0 at -inf, 1 at
 * +inf, NaN for NaN. y may be x. */
void attnc_sigmoid(const float *x, float *y, long n);

/* attnc_sigmoid with the instruction sets limited to `limit`. */
void attnc_sigmoid_limited(const float *x, float *y, long n, int limit);

/* 1 when the AVX2/FMA versions are in use. */
/* y[j·step] = x[j] + add for j < n, through max(·, 0) when relu != 0 (NaN stays NaN, −0 becomes
 * +0): a ConvTranspose phase's row into its outputs. Only those elements of y are written (other threads may be writing the
 * ones between), on AVX-512 for step 2 by masked stores. */
void attnc_store_strided(const float *x, long n, float add, int relu, float *y, long step);

int attnc_vector_math_uses_avx2(void);

/* 1 when the machine also runs AVX-512F (the 16-wide versions are in use where they exist). */
int attnc_vector_math_uses_avx512(void);

#endif
