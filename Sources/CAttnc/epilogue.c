#include "attnc_epilogue.h"

#include "attnc_vector_math.h"
#include "avx2_dispatch.h"

#if defined(__x86_64__)
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* The addends of one row: the common shapes (one or two full rows) in one fused loop the
 * compiler vectorises for the target; anything else one addend at a time. */
static ALWAYS_INLINE void add_row(float *restrict row, long r, long n, const attnc_addend *addends, int count) {
  if (count == 1 && addends[0].column_stride == 1) {
    const float *restrict a = addends[0].values + r * addends[0].row_stride;
    for (long j = 0; j < n; j++) row[j] += a[j];
    return;
  }
  if (count == 2 && addends[0].column_stride == 1 && addends[1].column_stride == 1) {
    const float *restrict a = addends[0].values + r * addends[0].row_stride;
    const float *restrict b = addends[1].values + r * addends[1].row_stride;
    for (long j = 0; j < n; j++) row[j] += a[j] + b[j];
    return;
  }
  for (int e = 0; e < count; e++) {
    const float *a = addends[e].values + r * addends[e].row_stride;
    if (addends[e].column_stride == 0) {
      const float value = a[0];
      for (long j = 0; j < n; j++) row[j] += value;
    } else {
      for (long j = 0; j < n; j++) row[j] += a[j];
    }
  }
}

static ALWAYS_INLINE void rows_inline(float *c, long rows, long n, long row_stride, const attnc_addend *addends, int count,
                                       int activation) {
  for (long r = 0; r < rows; r++) {
    float *row = c + r * row_stride;
    if (count > 0) add_row(row, r, n, addends, count);
    if (activation == ATTNC_EPILOGUE_RELU) {
      for (long j = 0; j < n; j++) row[j] = row[j] > 0 ? row[j] : 0;
    } else if (activation != ATTNC_EPILOGUE_NONE) {
      attnc_gelu(row, row, n, activation == ATTNC_EPILOGUE_GELU_TANH);
    }
  }
}

static void rows_generic(float *c, long rows, long n, long row_stride, const attnc_addend *addends, int count, int activation) {
  rows_inline(c, rows, n, row_stride, addends, count, activation);
}

#ifdef ATTNC_AVX2
/* rows_generic compiled for AVX2/FMA (the same source, 8-wide adds). */
ATTNC_AVX2 static void rows_avx2(float *c, long rows, long n, long row_stride, const attnc_addend *addends, int count,
                                 int activation) {
  rows_inline(c, rows, n, row_stride, addends, count, activation);
}
#endif

void attnc_epilogue_rows(float *c, long rows, long n, long row_stride, const attnc_addend *addends, int count,
                         int activation) {
  ATTNC_AVX2_OR_PORTABLE(rows_avx2(c, rows, n, row_stride, addends, count, activation),
                         rows_generic(c, rows, n, row_stride, addends, count, activation));
}
