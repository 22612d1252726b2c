#include "attnc_attention_rows.h"

#include "attnc_attention_tile.h"
#include "attnc_vector_math.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#endif

/* Query rows per head for the row kernel; keys per chunk (64 keys of 64 floats: 16 KiB, in L1
 * while every query row reads them). */
enum { ROWS_LIMIT = 4, CHUNK = 64 };

long attnc_attention_rows_limit(void) { return ROWS_LIMIT; }

long attnc_attention_rows_scratch_floats(long queries, long keys) {
  long n = queries * keys + 2 * queries;
  return n > 0 ? n : 1;
}

/* ---- plain C ---- */

/* scores[j] = scale · q·k[j] for j < count. */
static void scores_portable(const float *q, const float *k, long count, long depth, float scale, float *scores) {
  for (long j = 0; j < count; j++) {
    const float *row = k + j * depth;
    float sum = 0;
    for (long t = 0; t < depth; t++) sum += q[t] * row[t];
    scores[j] = scale * sum;
  }
}

/* y += Σ_j p[j]·v[j] for j < count. */
static void weighted_sum_portable(const float *p, const float *v, long count, long value_depth, float *y) {
  for (long j = 0; j < count; j++) {
    const float *row = v + j * value_depth;
    for (long c = 0; c < value_depth; c++) y[c] += p[j] * row[c];
  }
}

static void copy_portable(float *target, const float *source, long count) { memcpy(target, source, sizeof(float) * count); }

/* ---- AVX2 ---- */

#ifdef ATTNC_X86
/* Four keys at a time: four 8-wide accumulators over the depth, summed across lanes together. */
ATTNC_AVX2 static void scores_avx2(const float *q, const float *k, long count, long depth, float scale, float *scores) {
  const long vectorized = depth / 8 * 8;
  long j = 0;
  for (; j + 4 <= count; j += 4) {
    const float *k0 = k + j * depth, *k1 = k0 + depth, *k2 = k1 + depth, *k3 = k2 + depth;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (long t = 0; t < vectorized; t += 8) {
      __m256 x = _mm256_loadu_ps(q + t);
      a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + t), a0);
      a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + t), a1);
      a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + t), a2);
      a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + t), a3);
    }
    /* [Σa0, Σa1, Σa2, Σa3] from the two 128-bit halves of the pairwise sums. */
    __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m128 sums = _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1));
    float lanes[4];
    _mm_storeu_ps(lanes, sums);
    for (long t = vectorized; t < depth; t++) {
      lanes[0] += q[t] * k0[t];
      lanes[1] += q[t] * k1[t];
      lanes[2] += q[t] * k2[t];
      lanes[3] += q[t] * k3[t];
    }
    for (int i = 0; i < 4; i++) scores[j + i] = scale * lanes[i];
  }
  if (j < count) scores_portable(q, k + j * depth, count - j, depth, scale, scores + j);
}

/* Value columns in chunks of 32 (four accumulators), then 8, then a scalar rest. */
ATTNC_AVX2 static void weighted_sum_avx2(const float *p, const float *v, long count, long value_depth, float *y) {
  long c = 0;
  for (; c + 32 <= value_depth; c += 32) {
    __m256 a0 = _mm256_loadu_ps(y + c), a1 = _mm256_loadu_ps(y + c + 8);
    __m256 a2 = _mm256_loadu_ps(y + c + 16), a3 = _mm256_loadu_ps(y + c + 24);
    for (long j = 0; j < count; j++) {
      const float *row = v + j * value_depth + c;
      __m256 w = _mm256_broadcast_ss(p + j);
      a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row), a0);
      a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 8), a1);
      a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 16), a2);
      a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(row + 24), a3);
    }
    _mm256_storeu_ps(y + c, a0);
    _mm256_storeu_ps(y + c + 8, a1);
    _mm256_storeu_ps(y + c + 16, a2);
    _mm256_storeu_ps(y + c + 24, a3);
  }
  for (; c + 8 <= value_depth; c += 8) {
    __m256 a = _mm256_loadu_ps(y + c);
    for (long j = 0; j < count; j++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * value_depth + c), a);
    _mm256_storeu_ps(y + c, a);
  }
  for (; c < value_depth; c++) {
    float sum = y[c];
    for (long j = 0; j < count; j++) sum += p[j] * v[j * value_depth + c];
    y[c] = sum;
  }
}

/* A copy that bypasses the cache (streaming stores) once the target is 32-byte aligned: the
 * present keys and values are not read again before the next step. */
ATTNC_AVX2 static void copy_avx2(float *target, const float *source, long count) {
  long i = 0;
  while (i < count && ((uintptr_t)(target + i) & 31) != 0) {
    target[i] = source[i];
    i++;
  }
  for (; i + 32 <= count; i += 32) {
    __m256 a = _mm256_loadu_ps(source + i), b = _mm256_loadu_ps(source + i + 8);
    __m256 c = _mm256_loadu_ps(source + i + 16), d = _mm256_loadu_ps(source + i + 24);
    _mm256_stream_ps(target + i, a);
    _mm256_stream_ps(target + i + 8, b);
    _mm256_stream_ps(target + i + 16, c);
    _mm256_stream_ps(target + i + 24, d);
  }
  for (; i < count; i++) target[i] = source[i];
}
#endif

/* ---- driver ---- */

typedef struct {
  void (*scores)(const float *, const float *, long, long, float, float *);
  void (*weighted_sum)(const float *, const float *, long, long, float *);
  void (*copy)(float *, const float *, long);
} row_kernels;

static row_kernels row_kernels_for(int limit) {
#ifdef ATTNC_X86
  if (limit != ATTNC_ATTENTION_PORTABLE && attnc_vector_math_uses_avx2()) {
    return (row_kernels){scores_avx2, weighted_sum_avx2, copy_avx2};
  }
#endif
  return (row_kernels){scores_portable, weighted_sum_portable, copy_portable};
}

static long clamp_long(long x, long low, long high) { return x < low ? low : (x > high ? high : x); }

/* Keys row i of a block sees: all, or those up to its diagonal. */
static long visible_keys(const attnc_attention_rows *b, long i, long keys) {
  return b->causal ? clamp_long(i % b->rows + b->diagonal + 1, 0, keys) : keys;
}

/* Where a walk over the keys is: run `run`, `offset` rows into it, the chunk's `count` rows
 * starting at key `first` of the whole sequence. */
typedef struct {
  int run;
  long offset, count, first;
} chunk_walk;

/* Advances `w` to the next chunk of at most CHUNK keys before `end`, run by run; 0 at the end. */
static int next_chunk(const attnc_attention_rows *b, long end, chunk_walk *w) {
  w->offset += w->count;
  w->count = 0;
  while (w->run < 2 && w->offset >= b->key_runs[w->run]) {
    w->offset = 0;
    w->run++;
  }
  if (w->run >= 2) return 0;
  w->first = (w->run == 0 ? 0 : b->key_runs[0]) + w->offset;
  if (w->first >= end) return 0;
  const long left = b->key_runs[w->run] - w->offset;
  w->count = left < CHUNK ? left : CHUNK;
  return 1;
}

/* What a walk does with chunk rows [first, first + count) for query row i of the block. */
typedef void (*chunk_use)(const attnc_attention_rows *, const row_kernels *, long i, const float *chunk, long first,
                          long count, void *state);

/* For every chunk before `end`: copies it from `source` (run by run, rows of `width`) into
 * `present` when given, then hands it to `use` for every row of the block. */
static void walk(const attnc_attention_rows *b, long end, const float *const source[2], long width, float *present,
                 const row_kernels *kernels, chunk_use use, void *state) {
  chunk_walk w = {0, 0, 0, 0};
  while (next_chunk(b, end, &w)) {
    const float *chunk = source[w.run] + w.offset * width;
    if (present) kernels->copy(present + w.first * width, chunk, w.count * width);
    for (long i = 0; i < b->group * b->rows; i++) use(b, kernels, i, chunk, w.first, w.count, state);
  }
}

/* State of one call: the rows' scores (then probabilities), maxima and sums. */
typedef struct {
  float *scores, *tops, *sums;
  long keys;
} rows_state;

static void score_chunk(const attnc_attention_rows *b, const row_kernels *k, long i, const float *chunk, long first, long n,
                        void *context) {
  rows_state *state = context;
  long count = clamp_long(visible_keys(b, i, state->keys) - first, 0, n);
  if (count > 0) k->scores(b->q + i * b->depth, chunk, count, b->depth, b->scale, state->scores + i * state->keys + first);
}

static void sum_chunk(const attnc_attention_rows *b, const row_kernels *k, long i, const float *chunk, long first, long n,
                      void *context) {
  rows_state *state = context;
  if (state->tops[i] == -INFINITY || state->sums[i] != state->sums[i]) return;
  long count = clamp_long(visible_keys(b, i, state->keys) - first, 0, n);
  if (count > 0) {
    k->weighted_sum(state->scores + i * state->keys + first, chunk, count, b->value_depth, b->y + i * b->value_depth);
  }
}

void attnc_attention_rows_run(const attnc_attention_rows *b) {
  const row_kernels kernels = row_kernels_for(b->kernels);
  const long queries = b->group * b->rows, keys = b->key_runs[0] + b->key_runs[1];
  const long value_depth = b->value_depth;
  rows_state state = {b->scratch, b->scratch + queries * keys, b->scratch + queries * keys + queries, keys};
  float *scores = state.scores, *tops = state.tops, *sums = state.sums;
  long last_visible = 0;
  for (long i = 0; i < queries; i++) {
    long visible = visible_keys(b, i, keys);
    last_visible = visible > last_visible ? visible : last_visible;
  }
  /* Keys past every row's diagonal are only copied. */
  const long key_end = b->present_k ? keys : last_visible;

  /* Pass 1: scores, chunk by chunk, copying the keys on the way. */
  walk(b, key_end, b->k, b->depth, b->present_k, &kernels, score_chunk, &state);

  /* Each row's softmax numerators against its maximum; `tops` −inf marks a row whose visible
   * keys are all masked (zeros, or NaN when a score is NaN: its sum). */
  for (long i = 0; i < queries; i++) {
    float *row = scores + i * keys;
    const long g = i / b->rows, r = i % b->rows, visible = visible_keys(b, i, keys);
    if (b->softcap > 0) attnc_softcap(row, visible, b->softcap);
    if (b->term) {
      const float *term = b->term + g * b->term_head_stride + r * b->term_query_stride;
      if (b->term_key_stride == 0) {
        for (long j = 0; j < visible; j++) row[j] += term[0];
      } else {
        for (long j = 0; j < visible; j++) row[j] += term[j];
      }
    }
    tops[i] = attnc_row_max(row, visible);
    if (tops[i] == -INFINITY) {
      int poisoned = 0;
      for (long j = 0; j < visible; j++) poisoned |= row[j] != row[j];
      sums[i] = poisoned ? NAN : 0;
    } else {
      sums[i] = attnc_exp_shift_sum(row, visible, tops[i]);
    }
    memset(b->y + i * value_depth, 0, sizeof(float) * value_depth);
  }

  /* Pass 2: the weighted sums of the values, copying them on the way. */
  walk(b, key_end, b->v, value_depth, b->present_v, &kernels, sum_chunk, &state);
#ifdef ATTNC_X86
  if (b->present_k || b->present_v) _mm_sfence();
#endif

  for (long i = 0; i < queries; i++) {
    float *out = b->y + i * value_depth;
    float sum = sums[i];
    if (sum != sum) {
      float fill = b->zero_nan_rows ? 0.0f : NAN;
      for (long c = 0; c < value_depth; c++) out[c] = fill;
      continue;
    }
    float inverse = sum > 0 ? 1 / sum : 0;
    for (long c = 0; c < value_depth; c++) out[c] *= inverse;
  }
}
