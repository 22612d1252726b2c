#ifndef ATTNC_EPILOGUE_H
#define ATTNC_EPILOGUE_H

/* The epilogue of a fused GEMM (LinearAlgebra.fusedMatMul), one pass over each output row while
 * it is in L1: the addends, then the activation. */

/* A tensor broadcast into the rows of the product: element (r, j) is
 * values[r·row_stride + j·column_stride]; column_stride is 0 (one value per row) or 1. */
typedef struct {
  const float *values;
  long row_stride;
  long column_stride;
} attnc_addend;

enum { ATTNC_EPILOGUE_NONE = 0, ATTNC_EPILOGUE_GELU = 1, ATTNC_EPILOGUE_GELU_TANH = 2, ATTNC_EPILOGUE_RELU = 3 };

/* c[r][j] = activation(c[r][j] + Σ_e addend_e(r, j)) for r < rows, j < n, where c[r][j] is
 * c[r·row_stride + j] (a block of a wider row-major product when row_stride > n). The GELUs are
 * attnc_gelu's; RELU is max(x, 0). */
void attnc_epilogue_rows(float *c, long rows, long n, long row_stride, const attnc_addend *addends, int count,
                         int activation);

#endif
