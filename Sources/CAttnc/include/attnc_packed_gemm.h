#ifndef ATTNC_PACKED_GEMM_H
#define ATTNC_PACKED_GEMM_H

#include "attnc_epilogue.h"

#include <stdint.h>

/* C = activation(alpha · A·B + addends) against a weight B packed once, at conversion, into
 * panels of 16 columns (PackedMatMul.swift). Register-blocked tiles (AVX-512: 12 rows × 32
 * columns, AVX2: 6 × 16, plain C: 4 × 16), chosen at run time; the epilogue is applied to each
 * tile while it is in registers or cache. The packed layout does not depend on the machine, so a
 * plan written on one machine runs on another. */

/* Columns per packed panel. */
enum { ATTNC_GEMM_PANEL = 16 };

/* Which kernels a call may use (tests compare all three on one machine); the same numbers as
 * ATTNC_VECTOR_WIDEST, _AVX2 and _PORTABLE, which its GELU is given. */
enum { ATTNC_GEMM_WIDEST = 0, ATTNC_GEMM_AVX2 = 1, ATTNC_GEMM_PORTABLE = 2 };

/* The operands' precision: float32, or both rounded to bfloat16 (round to nearest even) with the
 * products accumulated in float32. */
enum { ATTNC_GEMM_FLOAT32 = 0, ATTNC_GEMM_BFLOAT16 = 1 };

/* Floats of B [k, n] packed: ceil(n / 16) panels of k × 16. */
long attnc_gemm_packed_floats(long k, long n);

/* packed[p][t][c] = b[t][16·p + c] for b row-major [k, n]; zeros past column n. */
void attnc_gemm_pack(const float *b, long k, long n, float *packed);

/* Rows [first, first + count) of B [k, n] into its packed panels: rows holds them row-major
 * (count × n). Different row ranges may be packed by different threads. */
void attnc_gemm_pack_rows(const float *rows, long first, long count, long k, long n, float *packed);

/* The inverse of attnc_gemm_pack: b row-major [k, n] from its panels. */
void attnc_gemm_unpack(const float *packed, long k, long n, float *b);

/* ---- bfloat16 operands (packed_gemm_bf16.c) ----
 * B is packed as for float32 but with the depth taken in pairs: packed[p][q][c] is the 32-bit
 * word holding bf16(b[2q][16p + c]) in its low half and bf16(b[2q + 1][16p + c]) in its high half
 * (0 past k or n), the operand layout of vdpbf16ps. A is rounded to bfloat16 rows of ⌈k/2⌉ such
 * words (a zero past k). Kernels: AVX-512 BF16 (vdpbf16ps, 12 rows × 32 columns) where the machine
 * has it, else plain C on the same rounded operands, each pair's products (exact in float32)
 * added odd depth first, as vdpbf16ps adds them. */

/* v rounded to bfloat16 (nearest, ties to even; NaN stays a quiet NaN), as its 16 bits. */
uint16_t attnc_bf16_round(float v);

/* 32-bit words of B [k, n] packed as bfloat16 pairs: ceil(n / 16) panels of ceil(k / 2) × 16. */
long attnc_gemm_bf16_packed_words(long k, long n);

/* b row-major [k, n] rounded and packed (see above). */
void attnc_gemm_bf16_pack(const float *b, long k, long n, uint32_t *packed);

/* Rows [first, first + count) of B [k, n] rounded into its bfloat16 panels (rows holds them
 * row-major, count × n); first and count even except at the end of B, so that each pair word is
 * written by one call. Different row ranges may be packed by different threads. */
void attnc_gemm_bf16_pack_rows(const float *rows, long first, long count, long k, long n, uint32_t *packed);

/* out[c] = bf16(low[c]) | bf16(high[c]) << 16 for c < n (zeros for the high halves when high is
 * NULL): a line of "pair planes", two channels of an image interleaved as B's pair words. */
void attnc_gemm_bf16_pair_row(const float *low, const float *high, long n, uint32_t *out);

/* Packs B [taps * units pairs, n] (as attnc_gemm_bf16_pack) straight from pair words: pair u of
 * tap j in column c is planes[u * plane_words + tap_offsets[j] + column_offsets[c]]. A
 * convolution's shifted inputs without a gathered copy; the planes carry any zero padding the
 * offsets reach. kernels: ATTNC_GEMM_WIDEST (AVX-512 where the machine has it) or any other
 * value for plain C. */
void attnc_gemm_bf16_pack_shifted(const uint32_t *planes, long plane_words, long units, long taps,
                                  const long *tap_offsets, const long *column_offsets, long n, uint32_t *packed,
                                  int kernels);

/* The inverse of attnc_gemm_bf16_pack up to the rounding: b row-major [k, n]. */
void attnc_gemm_bf16_unpack(const uint32_t *packed, long k, long n, float *b);

/* Rows of A rounded to bfloat16: out[r] = ⌈k/2⌉ words of x[r][0..k) (ldx floats apart), a zero
 * after an odd k. */
void attnc_gemm_bf16_round_rows(const float *x, long rows, long k, long ldx, uint32_t *out);

/* Whether bfloat16 products run on vdpbf16ps here (0 without AVX-512 BF16, or when the
 * environment sets ATTNC_GEMM_NO_BF16_DOT to force the plain C path). */
int attnc_gemm_bf16_uses_dot(void);

typedef struct {
  const void *a;        /* FLOAT32: floats [m, k], row stride k; BFLOAT16: attnc_gemm_bf16_round_rows */
  const void *packed_b; /* attnc_gemm_pack (FLOAT32) or attnc_gemm_bf16_pack (BFLOAT16) of B [k, n] */
  float *c;              /* [m, n], row stride n: written, never read before */
  long m, n, k;
  float alpha;
  attnc_addend addends[2]; /* attnc_epilogue.h */
  int addend_count;
  int activation; /* ATTNC_EPILOGUE_NONE, _GELU, _GELU_TANH or _RELU */
  int kernels;    /* ATTNC_GEMM_WIDEST, _AVX2 or _PORTABLE */
  int precision;  /* ATTNC_GEMM_FLOAT32 or _BFLOAT16 */
} attnc_gemm;

/* Computes rows [row_begin, row_end) of C over columns [column_begin, column_end);
 * column_begin is a multiple of 16 (so that parts of one call can run on different threads). */
void attnc_gemm_run(const attnc_gemm *g, long row_begin, long row_end, long column_begin, long column_end);

#endif
