#ifndef ATTNC_AVX2_DISPATCH_H
#define ATTNC_AVX2_DISPATCH_H

#include "attnc_vector_math.h"

/* The run-time choice between a loop compiled for AVX2/FMA and its portable twin (the same
 * source compiled twice, or a hand-vectorised loop and its plain-C form): runs the statement
 * `avx2_call` where the machine has AVX2 and FMA (attnc_vector_math_uses_avx2), else
 * `portable_call`. Off x86 only `portable_call` is compiled, so the AVX2 twin need not exist. */
#if defined(__x86_64__)
#define ATTNC_AVX2_OR_PORTABLE(avx2_call, portable_call) \
  do {                                                   \
    if (attnc_vector_math_uses_avx2()) {                 \
      avx2_call;                                         \
    } else {                                             \
      portable_call;                                     \
    }                                                    \
  } while (0)
#else
#define ATTNC_AVX2_OR_PORTABLE(avx2_call, portable_call) portable_call
#endif

#endif
