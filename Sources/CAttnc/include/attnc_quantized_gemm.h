#ifndef ATTNC_QUANTIZED_GEMM_H
#define ATTNC_QUANTIZED_GEMM_H

#include "attnc_epilogue.h"

#include <stdint.h>

/* Integer matrix products for quantized models (QuantizedGemm.swift): C = (A − a_zero)·(B − b_zero)
 * with A unsigned 8-bit [m, k] and B signed 8-bit [k, n], accumulated exactly in 32 bits (wrapping
 * past them, as ONNX MatMulInteger allows). The result is either stored as int32 or, for the
 * linear layers of dynamically quantized models, scaled to float by a_scale · b_scale[j] and
 * finished with the packed GEMM's epilogue (addends, GELU) while each tile is in registers.
 *
 * B is packed once (at conversion for weights) into panels of 16 columns whose depth is grouped
 * by four: the layout of vpdpbusd, which adds four u8·s8 products into each 32-bit lane. Kernels
 * (chosen at run time): AVX-512 VNNI 12 rows × 32 columns, AVX2 (vpmaddwd on widened bytes)
 * 4 × 16, plain C 4 × 16. All give the same integers. The packed layout does not depend on the
 * machine. Signed A or unsigned B are the caller's to shift (a + 128 with a_zero + 128;
 * b − 128 with b_zero − 128), which leaves every product unchanged. */

enum { ATTNC_QGEMM_PANEL = 16, ATTNC_QGEMM_GROUP = 4 };

/* Which kernels a call may use (tests compare all three): the same numbers as ATTNC_GEMM_*. */
enum { ATTNC_QGEMM_WIDEST = 0, ATTNC_QGEMM_AVX2 = 1, ATTNC_QGEMM_PORTABLE = 2 };

/* Whether the widest kernel this machine runs is the AVX-512 VNNI one. */
int attnc_qgemm_uses_vnni(void);

/* Row stride (bytes) of an A operand of depth k: k rounded up to a group of four. */
long attnc_qgemm_depth_stride(long k);

/* Bytes of B [k, n] packed: ceil(n/16) panels of ceil(k/4) groups of 64 bytes, followed by the
 * int32 column sums Σ_t B[t][j] for 16·ceil(n/16) columns (0 past n). */
long attnc_qgemm_packed_bytes(long k, long n);

/* packed[p][g][c][d] = b[4g + d][16p + c] for b row-major [k, n] (0 past k or n), then the
 * column sums. `packed` needs attnc_qgemm_packed_bytes(k, n) bytes, 4-byte aligned. */
void attnc_qgemm_pack(const int8_t *b, long k, long n, void *packed);

/* The smallest and largest element of x[0..count); NaN elements are skipped. +INFINITY and
 * -INFINITY when there is none. */
void attnc_min_max(const float *x, long count, float *min, float *max);

/* Rows of ONNX QuantizeLinear to uint8 with one scale and zero point:
 * out[r][t] = clamp(round_half_even(x[r][t] / scale), −zero, 255 − zero) + zero, NaN to 0 (the
 * division is a true division; NaN clamps to the low end, as ONNX Runtime's kernels give), for
 * t < k, and 0 for k ≤ t < ldo (the depth padding of a GEMM operand). When row_sums is not NULL,
 * row_sums[r] = Σ_{t<k} out[r][t]. x rows are ldx floats apart, out rows ldo bytes. */
void attnc_quantize_rows_u8(const float *x, long rows, long k, long ldx, float scale, int32_t zero, uint8_t *out,
                            long ldo, int32_t *row_sums);

typedef struct {
  const uint8_t *a;      /* [m, lda], zero past column k */
  long lda;              /* ≥ attnc_qgemm_depth_stride(k), a multiple of 4 */
  const int32_t *a_row_sums;   /* Σ_{t<k} a[r][t]; read only when some b zero point is not 0 */
  const int32_t *a_zero;       /* a zero point per row r: a_zero[r · a_zero_stride] */
  long a_zero_stride;          /* 0: one zero point for every row */
  const void *packed_b;        /* attnc_qgemm_pack of B [k, n] */
  const int32_t *b_zero;       /* b zero point per column j: b_zero[j · b_zero_stride]; NULL: 0 */
  long b_zero_stride;
  long m, n, k;
  /* int32 output: c_int[r][j] = the exact product (row stride n); used when not NULL. */
  int32_t *c_int;
  /* float output: c[r][j] = activation(float(product) · a_scale · b_scale[j · b_scale_stride]
   * · alpha + addends), row stride n. */
  float *c;
  float a_scale;
  const float *b_scale;
  long b_scale_stride;
  float alpha;
  attnc_addend addends[2];
  int addend_count;
  int activation; /* ATTNC_EPILOGUE_NONE, _GELU, _GELU_TANH or _RELU */
  int kernels;    /* ATTNC_QGEMM_WIDEST, _AVX2 or _PORTABLE */
} attnc_qgemm;

/* Computes rows [row_begin, row_end) of C over columns [column_begin, column_end);
 * column_begin is a multiple of 16 (parts of one call may run on different threads). */
void attnc_qgemm_run(const attnc_qgemm *g, long row_begin, long row_end, long column_begin, long column_end);

#endif
