#ifndef ATTNC_PACKED_GEMM_H
#define ATTNC_PACKED_GEMM_H

#include "attnc_epilogue.h"

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

/* Floats of B [k, n] packed: ceil(n / 16) panels of k × 16. */
long attnc_gemm_packed_floats(long k, long n);

/* packed[p][t][c] = b[t][16·p + c] for b row-major [k, n]; zeros past column n. */
void attnc_gemm_pack(const float *b, long k, long n, float *packed);

/* The inverse of attnc_gemm_pack: b row-major [k, n] from its panels. */
void attnc_gemm_unpack(const float *packed, long k, long n, float *b);

typedef struct {
  const float *a;        /* [m, k], row stride k */
  const float *packed_b; /* attnc_gemm_pack of B [k, n] */
  float *c;              /* [m, n], row stride n: written, never read before */
  long m, n, k;
  float alpha;
  attnc_addend addends[2]; /* attnc_epilogue.h */
  int addend_count;
  int activation; /* ATTNC_EPILOGUE_NONE, _GELU, _GELU_TANH or _RELU */
  int kernels;    /* ATTNC_GEMM_WIDEST, _AVX2 or _PORTABLE */
} attnc_gemm;

/* Computes rows [row_begin, row_end) of C over columns [column_begin, column_end);
 * column_begin is a multiple of 16 (so that parts of one call can run on different threads). */
void attnc_gemm_run(const attnc_gemm *g, long row_begin, long row_end, long column_begin, long column_end);

#endif
