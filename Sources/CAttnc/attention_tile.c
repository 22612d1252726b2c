#include "attnc_attention_tile.h"

#include "attnc_attention_int8.h"
#include "attnc_vector_math.h"
#include "gemm_tiles.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define ATTNC_X86 1
#define ATTNC_AVX2 __attribute__((target("avx2,fma")))
#define ATTNC_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define ATTNC_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16,avx2,fma")))
#endif

#include "exp_reduction_avx2.h"

/* A strip of query rows shares each loaded key or value vector; a panel of packed keys is two
 * vectors. AVX2 (16 registers): 6 rows × 16 keys, 12 accumulators plus two loads and a broadcast.
 * AVX-512 (32 registers): 12 rows × 32 keys, 24 accumulators (12 beat 8 and 10 when measured).
 * The plain C loops use the AVX2 shape. STRIP and PANEL bound them all. */
enum { STRIP = 12, PANEL = 32, STRIP_AVX2 = 6, PANEL_AVX2 = 16, STRIP_AVX512 = 12, PANEL_AVX512 = 32 };

#define ALWAYS_INLINE inline __attribute__((always_inline))

static long min_long(long a, long b) { return a < b ? a : b; }
static long max_long(long a, long b) { return a > b ? a : b; }

long attnc_attention_panel_width(void) { return PANEL; }

long attnc_attention_scratch_floats(long rows, long key_block, long depth) {
  /* the scores of one strip, running maxima and sums, per-strip corrections; in bfloat16 the
   * rounded queries (in int8 the quantized ones and their scales) and a strip of rounded
   * probabilities */
  return STRIP * key_block + 2 * rows + STRIP + rows * (depth + 1) + STRIP * key_block;
}

long attnc_attention_packed_floats(long keys, long depth) { return (keys + PANEL - 1) / PANEL * PANEL * depth; }

/* ---- bfloat16 operands ---- */

/* The bfloat16 nearest x (ties to even), as its 16 bits; NaN stays NaN. */
static uint16_t bf16_bits(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1);
  return (uint16_t)(bits >> 16);
}

/* x[0..<n] rounded to bfloat16, as floats, into y (may be x). */
static void round_floats(const float *x, long n, float *y) {
  for (long i = 0; i < n; i++) {
    uint32_t bits = (uint32_t)bf16_bits(x[i]) << 16;
    memcpy(y + i, &bits, sizeof bits);
  }
}

/* Pairs of a length (an odd one padded with a zero), and value columns padded to a vector. */
static long pairs(long n) { return (n + 1) / 2; }
static long value_columns(long value_depth) { return (value_depth + 15) / 16 * 16; }

/* Rows [rows, depth] of x as bfloat16 pairs along the depth: out[r][t] = x[r][t] rounded, the
 * odd depth's last pair ending in a zero. One 32-bit unit a pair: the products broadcast it. */
static void pair_rows(const float *x, long rows, long depth, uint16_t *out) {
  const long width = 2 * pairs(depth);
  for (long r = 0; r < rows; r++) {
    for (long t = 0; t < width; t++) out[r * width + t] = t < depth ? bf16_bits(x[r * depth + t]) : 0;
  }
}

/* Keys as bfloat16 panels for vdpbf16ps: panel p holds keys p·W..<p·W + W (W = PANEL_AVX512) as
 * packed[p][t][c][e] = k[p·W + c][2t + e], zeros past count and depth. */
static void pack_keys_bf16(const float *k, long count, long depth, uint16_t *packed) {
  const long width = PANEL_AVX512, depth_pairs = pairs(depth), panels = (count + width - 1) / width;
  for (long p = 0; p < panels; p++) {
    uint16_t *panel = packed + p * depth_pairs * width * 2;
    for (long c = 0; c < width; c++) {
      const long j = p * width + c;
      for (long t = 0; t < 2 * depth_pairs; t++) {
        panel[((t / 2) * width + c) * 2 + t % 2] = j < count && t < depth ? bf16_bits(k[j * depth + t]) : 0;
      }
    }
  }
}

/* Values as bfloat16 pairs of keys: packed[j][c][e] = v[2j + e][c], columns padded to 16, zeros
 * past count and value_depth. */
static void pack_values_bf16(const float *v, long count, long value_depth, uint16_t *packed) {
  const long columns = value_columns(value_depth);
  for (long j = 0; j < 2 * pairs(count); j++) {
    for (long c = 0; c < columns; c++) {
      packed[((j / 2) * columns + c) * 2 + j % 2] = j < count && c < value_depth ? bf16_bits(v[j * value_depth + c]) : 0;
    }
  }
}

long attnc_attention_packed_value_floats(long keys, long value_depth) {
  long native = pairs(keys) * value_columns(value_depth), rounded = keys * value_depth;
  return native > rounded ? native : rounded;
}

/* Keys k[0..<count] of row stride depth as panels of `width` keys:
 * packed[p][t][c] = k[p·width + c][t], zeros past count. */
static void pack_keys(const float *k, long count, long depth, long width, float *packed) {
  long panels = (count + width - 1) / width;
  for (long p = 0; p < panels; p++) {
    float *panel = packed + p * depth * width;
    for (long c = 0; c < width; c++) {
      long j = p * width + c;
      if (j < count) {
        const float *row = k + j * depth;
        for (long t = 0; t < depth; t++) panel[t * width + c] = row[t];
      } else {
        for (long t = 0; t < depth; t++) panel[t * width + c] = 0;
      }
    }
  }
}

/* The parts of one step that do not depend on the instruction set. */
typedef struct {
  float *strip;     /* [STRIP, key_block] scores, then probabilities */
  float *maxima;    /* [rows] running maxima */
  float *sums;      /* [rows] running sums */
  float *corrections; /* [STRIP] factors for the strip's partial outputs */
} workspace;

/* Row of scaled scores for visible keys [0, visible) of `width`: softcap, term, −inf for the hidden
 * columns. */
static ALWAYS_INLINE void adjust_row(float *row, long width, long visible, const attnc_attention_block *b,
                                     const float *term) {
  if (b->softcap > 0) attnc_softcap(row, visible, b->softcap);
  if (term) {
    if (b->term_key_stride == 0) {
      float add = term[0];
      for (long j = 0; j < visible; j++) row[j] += add;
    } else {
      for (long j = 0; j < visible; j++) row[j] += term[j];
    }
  }
  for (long j = visible; j < width; j++) row[j] = -INFINITY;
}

/* Online-softmax step for one row whose adjusted scores have maximum `block_max` (NaN skipped):
 * turns the row into probabilities against the new running maximum and returns the factor for
 * the row's partial output. `exp_sum` exponentiates row[0..width) against a shift in place and
 * returns the sum; with `halves` (not NULL) `exp_sum_bf16` writes the probabilities as bfloat16
 * there instead (the row keeps its scores) and returns the sum of the unrounded ones. */
static ALWAYS_INLINE float update_row(float *row, long width, float block_max, float *maximum, float *sum,
                                      float (*exp_sum)(float *, long, float),
                                      float (*exp_sum_bf16)(const float *, long, float, uint16_t *), uint16_t *halves) {
  float old = *maximum;
  float top = block_max > old ? block_max : old;
  if (top == -INFINITY) {
    /* Everything so far is masked: the row adds nothing, unless it holds NaN. */
    int poisoned = 0;
    for (long j = 0; j < width; j++) poisoned |= row[j] != row[j];
    float fill = poisoned ? NAN : 0.0f;
    for (long j = 0; j < width; j++) row[j] = fill;
    for (long j = 0; halves && j < width; j++) halves[j] = bf16_bits(fill);
    if (poisoned) *sum = NAN;
    return 1;
  }
  float block_sum = halves ? exp_sum_bf16(row, width, top, halves) : exp_sum(row, width, top);
  float correction = old == -INFINITY ? 0 : attnc_exp(old - top);
  *sum = *sum * correction + block_sum;
  *maximum = top;
  return correction;
}

/* ---- plain C ---- */

static void adjust_row_portable(float *row, long width, long visible, const attnc_attention_block *b,
                                const float *term) {
  adjust_row(row, width, visible, b, term);
}

static void qk_strip_portable(int rows, const float *q, long depth, const float *packed, long panels, float scale,
                              float *strip, long stride) {
  for (int r = 0; r < rows; r++) {
    for (long p = 0; p < panels; p++) {
      const float *panel = packed + p * depth * PANEL_AVX2;
      float acc[PANEL_AVX2] = {0};
      for (long t = 0; t < depth; t++) {
        float x = q[r * depth + t];
        for (int c = 0; c < PANEL_AVX2; c++) acc[c] += x * panel[t * PANEL_AVX2 + c];
      }
      for (int c = 0; c < PANEL_AVX2; c++) strip[r * stride + p * PANEL_AVX2 + c] = scale * acc[c];
    }
  }
}

static float row_max_portable(const float *row, long width) {
  float m = -INFINITY;
  for (long j = 0; j < width; j++) m = row[j] > m ? row[j] : m;
  return m;
}

/* y[r] = correction[r]·y[r] + Σ_j p[r][j]·v[j] for j < count. */
static void pv_strip_portable(int rows, const float *p, long p_stride, const float *v, long value_depth, long count,
                              float *y, const float *corrections) {
  for (int r = 0; r < rows; r++) {
    float *out = y + r * value_depth;
    for (long c = 0; c < value_depth; c++) out[c] *= corrections[r];
    for (long j = 0; j < count; j++) {
      float w = p[r * p_stride + j];
      const float *vrow = v + j * value_depth;
      for (long c = 0; c < value_depth; c++) out[c] += w * vrow[c];
    }
  }
}

/* ---- AVX2 ---- */

#ifdef ATTNC_X86
/* adjust_row's loops, vectorised for the target by the compiler. */
ATTNC_AVX2 static void adjust_row_avx2(float *row, long width, long visible, const attnc_attention_block *b,
                                       const float *term) {
  adjust_row(row, width, visible, b, term);
}
ATTNC_AVX2 static float exp_sum_avx2(float *x, long n, float shift) {
  __m256 s = _mm256_set1_ps(shift), total0 = _mm256_setzero_ps(), total1 = _mm256_setzero_ps();
  long i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 e0 = attnc_exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    __m256 e1 = attnc_exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), s));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    total0 = _mm256_add_ps(total0, e0);
    total1 = _mm256_add_ps(total1, e1);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(total0, total1));
  float sum = 0;
  for (int k = 0; k < 8; k++) sum += lanes[k];
  return sum + attnc_exp_shift_sum_portable(x + i, n - i, shift);
}

/* NaN skipped: max_ps returns its second operand when either is NaN. */
ATTNC_AVX2 static float row_max_avx2(const float *row, long width) {
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
  long j = 0;
  for (; j + 16 <= width; j += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(row + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(row + j + 8), m1);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
  float m = row_max_portable(row + j, width - j);
  for (int k = 0; k < 8; k++) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

/* strip[r][p·PANEL_AVX2 + c] = scale · q[r]·key(p·PANEL_AVX2 + c) for `rows` (constant after inlining) rows. */
ATTNC_AVX2 static ALWAYS_INLINE void qk_rows_avx2(int rows, const float *q, long depth, const float *packed,
                                                   long panels, float scale, float *strip, long stride) {
  const __m256 factor = _mm256_set1_ps(scale);
  for (long p = 0; p < panels; p++) {
    const float *panel = packed + p * depth * PANEL_AVX2;
    __m256 acc[STRIP_AVX2][2];
    panel_product_avx2(rows, q, depth, panel, depth, acc);
    for (int r = 0; r < rows; r++) {
      _mm256_storeu_ps(strip + r * stride + p * PANEL_AVX2, _mm256_mul_ps(acc[r][0], factor));
      _mm256_storeu_ps(strip + r * stride + p * PANEL_AVX2 + 8, _mm256_mul_ps(acc[r][1], factor));
    }
  }
}

ATTNC_AVX2 static void qk_strip_avx2(int rows, const float *q, long depth, const float *packed, long panels,
                                     float scale, float *strip, long stride) {
  ATTNC_ROW_DISPATCH_6(rows, qk_rows_avx2, q, depth, packed, panels, scale, strip, stride);
}

/* Columns [column, column + 8·vectors) of y[r] = correction[r]·y[r] + Σ_j p[r][j]·v[j], j < count;
 * `tail` masks the last vector's lanes (all set for a full one). */
ATTNC_AVX2 static ALWAYS_INLINE void pv_rows_avx2(int rows, int vectors, int masked, __m256i tail, const float *p,
                                                   long p_stride, const float *v, long value_depth, long count,
                                                   float *y, const float *corrections) {
  __m256 acc[STRIP_AVX2][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (long j = 0; j < count; j++) {
    const float *vrow = v + j * value_depth;
    __m256 v0, v1 = _mm256_setzero_ps();
    if (vectors == 2) {
      v0 = _mm256_loadu_ps(vrow);
      v1 = masked ? _mm256_maskload_ps(vrow + 8, tail) : _mm256_loadu_ps(vrow + 8);
    } else {
      v0 = masked ? _mm256_maskload_ps(vrow, tail) : _mm256_loadu_ps(vrow);
    }
    for (int r = 0; r < rows; r++) {
      __m256 w = _mm256_broadcast_ss(p + r * p_stride + j);
      acc[r][0] = _mm256_fmadd_ps(w, v0, acc[r][0]);
      if (vectors == 2) acc[r][1] = _mm256_fmadd_ps(w, v1, acc[r][1]);
    }
  }
  for (int r = 0; r < rows; r++) {
    float *out = y + r * value_depth;
    __m256 c = _mm256_broadcast_ss(corrections + r);
    if (vectors == 2) {
      _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_loadu_ps(out), c, acc[r][0]));
      if (masked) {
        _mm256_maskstore_ps(out + 8, tail, _mm256_fmadd_ps(_mm256_maskload_ps(out + 8, tail), c, acc[r][1]));
      } else {
        _mm256_storeu_ps(out + 8, _mm256_fmadd_ps(_mm256_loadu_ps(out + 8), c, acc[r][1]));
      }
    } else if (masked) {
      _mm256_maskstore_ps(out, tail, _mm256_fmadd_ps(_mm256_maskload_ps(out, tail), c, acc[r][0]));
    } else {
      _mm256_storeu_ps(out, _mm256_fmadd_ps(_mm256_loadu_ps(out), c, acc[r][0]));
    }
  }
}

/* Every value column in chunks of 16, then 8, then a masked rest. */
ATTNC_AVX2 static ALWAYS_INLINE void pv_columns_avx2(int rows, const float *p, long p_stride, const float *v,
                                                      long value_depth, long count, float *y,
                                                      const float *corrections) {
  const __m256i all = _mm256_set1_epi32(-1);
  long c = 0;
  for (; c + 16 <= value_depth; c += 16) pv_rows_avx2(rows, 2, 0, all, p, p_stride, v + c, value_depth, count, y + c, corrections);
  if (c + 8 <= value_depth) {
    pv_rows_avx2(rows, 1, 0, all, p, p_stride, v + c, value_depth, count, y + c, corrections);
    c += 8;
  }
  if (c < value_depth) {
    __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(value_depth - c)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    pv_rows_avx2(rows, 1, 1, tail, p, p_stride, v + c, value_depth, count, y + c, corrections);
  }
}

ATTNC_AVX2 static void pv_strip_avx2(int rows, const float *p, long p_stride, const float *v, long value_depth,
                                     long count, float *y, const float *corrections) {
  ATTNC_ROW_DISPATCH_6(rows, pv_columns_avx2, p, p_stride, v, value_depth, count, y, corrections);
}
#endif

/* ---- AVX-512 ---- */

#ifdef ATTNC_X86
ATTNC_AVX512 static void adjust_row_avx512(float *row, long width, long visible, const attnc_attention_block *b,
                                           const float *term) {
  adjust_row(row, width, visible, b, term);
}
ATTNC_AVX512 static float exp_sum_avx512(float *x, long n, float shift) {
  __m512 s = _mm512_set1_ps(shift), total0 = _mm512_setzero_ps(), total1 = _mm512_setzero_ps();
  long i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 e0 = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    __m512 e1 = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), s));
    _mm512_storeu_ps(x + i, e0);
    _mm512_storeu_ps(x + i + 16, e1);
    total0 = _mm512_add_ps(total0, e0);
    total1 = _mm512_add_ps(total1, e1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(total0, total1)) + attnc_exp_shift_sum_portable(x + i, n - i, shift);
}

/* NaN skipped, as row_max_avx2. */
ATTNC_AVX512 static float row_max_avx512(const float *row, long width) {
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
  long j = 0;
  for (; j + 32 <= width; j += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(row + j), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(row + j + 16), m1);
  }
  float m = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1)), rest = row_max_portable(row + j, width - j);
  return rest > m ? rest : m;
}

/* strip[r][column..<column + 32] = scale · acc[r] for the strip's rows. */
ATTNC_AVX512 static ALWAYS_INLINE void store_scores_avx512(int rows, __m512 acc[][2], float scale, float *strip, long stride,
                                                            long column) {
  const __m512 factor = _mm512_set1_ps(scale);
  for (int r = 0; r < rows; r++) {
    _mm512_storeu_ps(strip + r * stride + column, _mm512_mul_ps(acc[r][0], factor));
    _mm512_storeu_ps(strip + r * stride + column + 16, _mm512_mul_ps(acc[r][1], factor));
  }
}

/* y[r] = correction[r]·y[r] + acc[r] over `vectors` (1 or 2) of 16 columns, the last one's lanes
 * masked by `tail`. */
ATTNC_AVX512 static ALWAYS_INLINE void update_outputs_avx512(int rows, int vectors, __mmask16 tail, __m512 acc[][2], float *y,
                                                              long value_depth, const float *corrections) {
  for (int r = 0; r < rows; r++) {
    float *out = y + r * value_depth;
    __m512 c = _mm512_set1_ps(corrections[r]);
    if (vectors == 2) {
      _mm512_storeu_ps(out, _mm512_fmadd_ps(_mm512_loadu_ps(out), c, acc[r][0]));
      _mm512_mask_storeu_ps(out + 16, tail, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, out + 16), c, acc[r][1]));
    } else {
      _mm512_mask_storeu_ps(out, tail, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, out), c, acc[r][0]));
    }
  }
}

/* The value columns of a P·V strip in chunks of 32, then a rest of up to 16 (masked): at most
 * value_depth / 32 + 1 chunks, each a first column, 1 or 2 vectors and the last one's mask. */
typedef struct {
  long column;
  int vectors;
  __mmask16 tail;
} column_chunk;

static long column_chunks(long value_depth, column_chunk *chunks) {
  long n = 0, c = 0;
  for (; c + 32 <= value_depth; c += 32) chunks[n++] = (column_chunk){c, 2, 0xFFFF};
  long rest = value_depth - c;
  if (rest > 16) chunks[n++] = (column_chunk){c, 2, (__mmask16)((1u << (rest - 16)) - 1)};
  else if (rest > 0) chunks[n++] = (column_chunk){c, 1, (__mmask16)((1u << rest) - 1)};
  return n;
}

ATTNC_AVX512 static ALWAYS_INLINE void qk_rows_avx512(int rows, const float *q, long depth, const float *packed,
                                                       long panels, float scale, float *strip, long stride) {
  for (long p = 0; p < panels; p++) {
    const float *panel = packed + p * depth * PANEL_AVX512;
    __m512 acc[STRIP_AVX512][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long t = 0; t < depth; t++) {
      __m512 k0 = _mm512_loadu_ps(panel + t * PANEL_AVX512), k1 = _mm512_loadu_ps(panel + t * PANEL_AVX512 + 16);
      for (int r = 0; r < rows; r++) {
        __m512 x = _mm512_set1_ps(q[r * depth + t]);
        acc[r][0] = _mm512_fmadd_ps(x, k0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(x, k1, acc[r][1]);
      }
    }
    store_scores_avx512(rows, acc, scale, strip, stride, p * PANEL_AVX512);
  }
}

ATTNC_AVX512 static void qk_strip_avx512(int rows, const float *q, long depth, const float *packed, long panels,
                                         float scale, float *strip, long stride) {
  ATTNC_ROW_DISPATCH_12(rows, qk_rows_avx512, q, depth, packed, panels, scale, strip, stride);
}

/* As pv_rows_avx2: `vectors` (1 or 2) of 16 columns, lanes of the last one masked by `tail`. */
ATTNC_AVX512 static ALWAYS_INLINE void pv_rows_avx512(int rows, int vectors, __mmask16 tail, const float *p,
                                                       long p_stride, const float *v, long value_depth, long count,
                                                       float *y, const float *corrections) {
  __m512 acc[STRIP_AVX512][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long j = 0; j < count; j++) {
    const float *vrow = v + j * value_depth;
    __m512 v0, v1 = _mm512_setzero_ps();
    if (vectors == 2) {
      v0 = _mm512_loadu_ps(vrow);
      v1 = _mm512_maskz_loadu_ps(tail, vrow + 16);
    } else {
      v0 = _mm512_maskz_loadu_ps(tail, vrow);
    }
    for (int r = 0; r < rows; r++) {
      __m512 w = _mm512_set1_ps(p[r * p_stride + j]);
      acc[r][0] = _mm512_fmadd_ps(w, v0, acc[r][0]);
      if (vectors == 2) acc[r][1] = _mm512_fmadd_ps(w, v1, acc[r][1]);
    }
  }
  update_outputs_avx512(rows, vectors, tail, acc, y, value_depth, corrections);
}

/* Every value column in chunks of 32, then a rest of up to 16 (masked). */
ATTNC_AVX512 static ALWAYS_INLINE void pv_columns_avx512(int rows, const float *p, long p_stride, const float *v,
                                                          long value_depth, long count, float *y,
                                                          const float *corrections) {
  column_chunk chunks[value_depth / 32 + 1];
  const long n = column_chunks(value_depth, chunks);
  for (long i = 0; i < n; i++) {
    const column_chunk k = chunks[i];
    /* `vectors` as a constant at each call: the branches inside the key loop fold away (at -O2,
     * which SwiftPM uses, the compiler does not unswitch them itself: half the speed). */
    if (k.vectors == 2) pv_rows_avx512(rows, 2, k.tail, p, p_stride, v + k.column, value_depth, count, y + k.column, corrections);
    else pv_rows_avx512(rows, 1, k.tail, p, p_stride, v + k.column, value_depth, count, y + k.column, corrections);
  }
}

ATTNC_AVX512 static void pv_strip_avx512(int rows, const float *p, long p_stride, const float *v, long value_depth,
                                         long count, float *y, const float *corrections) {
  ATTNC_ROW_DISPATCH_12(rows, pv_columns_avx512, p, p_stride, v, value_depth, count, y, corrections);
}

/* ---- AVX512-BF16: the AVX-512 strip with bfloat16 operands (vdpbf16ps: two products a lane) ---- */

/* As qk_rows_avx512 with q as bfloat16 pairs along the depth (pair_rows) and the keys as
 * pack_keys_bf16 packs them: each step adds two depths of 32 keys. */
ATTNC_BF16 static ALWAYS_INLINE void qk_rows_bf16(int rows, const float *q, long depth, const float *packed,
                                                   long panels, float scale, float *strip, long stride) {
  const long depth_pairs = pairs(depth);
  for (long p = 0; p < panels; p++) {
    const float *panel = packed + p * depth_pairs * PANEL_AVX512;
    __m512 acc[STRIP_AVX512][2];
    for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (long t = 0; t < depth_pairs; t++) {
      const __m512bh k0 = (__m512bh)_mm512_loadu_ps(panel + t * PANEL_AVX512);
      const __m512bh k1 = (__m512bh)_mm512_loadu_ps(panel + t * PANEL_AVX512 + 16);
      for (int r = 0; r < rows; r++) {
        const __m512bh x = (__m512bh)_mm512_set1_ps(q[r * depth_pairs + t]);
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, k0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, k1);
      }
    }
    store_scores_avx512(rows, acc, scale, strip, stride, p * PANEL_AVX512);
  }
}

ATTNC_BF16 static void qk_strip_bf16(int rows, const float *q, long depth, const float *packed, long panels, float scale,
                                     float *strip, long stride) {
  ATTNC_ROW_DISPATCH_12(rows, qk_rows_bf16, q, depth, packed, panels, scale, strip, stride);
}

/* As pv_rows_avx512 with p as bfloat16 pairs of keys (p_stride pairs a row) and v as
 * pack_values_bf16 packs them (rows of `columns` pairs); `count` keys. */
ATTNC_BF16 static ALWAYS_INLINE void pv_rows_bf16(int rows, int vectors, __mmask16 tail, const float *p, long p_stride,
                                                   const float *v, long columns, long count, float *y, long value_depth,
                                                   const float *corrections) {
  __m512 acc[STRIP_AVX512][2];
  for (int r = 0; r < rows; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (long j = 0; j < pairs(count); j++) {
    const __m512bh v0 = (__m512bh)_mm512_loadu_ps(v + j * columns);
    const __m512bh v1 = vectors == 2 ? (__m512bh)_mm512_loadu_ps(v + j * columns + 16) : v0;
    for (int r = 0; r < rows; r++) {
      const __m512bh w = (__m512bh)_mm512_set1_ps(p[r * p_stride + j]);
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], w, v0);
      if (vectors == 2) acc[r][1] = _mm512_dpbf16_ps(acc[r][1], w, v1);
    }
  }
  update_outputs_avx512(rows, vectors, tail, acc, y, value_depth, corrections);
}

ATTNC_BF16 static ALWAYS_INLINE void pv_columns_bf16(int rows, const float *p, long p_stride, const float *v,
                                                      long value_depth, long count, float *y,
                                                      const float *corrections) {
  column_chunk chunks[value_depth / 32 + 1];
  const long n = column_chunks(value_depth, chunks), columns = value_columns(value_depth);
  for (long i = 0; i < n; i++) {
    const column_chunk k = chunks[i];
    if (k.vectors == 2) pv_rows_bf16(rows, 2, k.tail, p, p_stride, v + k.column, columns, count, y + k.column, value_depth, corrections);
    else pv_rows_bf16(rows, 1, k.tail, p, p_stride, v + k.column, columns, count, y + k.column, value_depth, corrections);
  }
}

ATTNC_BF16 static void pv_strip_bf16(int rows, const float *p, long p_stride, const float *v, long value_depth, long count,
                                     float *y, const float *corrections) {
  ATTNC_ROW_DISPATCH_12(rows, pv_columns_bf16, p, p_stride, v, value_depth, count, y, corrections);
}

/* exp(x[j] − shift) for j < n (every x[j] ≤ shift) as bfloat16 into out (round to nearest even,
 * as round_floats), x left as it is; returns the sum of the unrounded exponentials, as
 * exp_sum_avx512 adds them. */
ATTNC_BF16 static float exp_sum_bf16(const float *x, long n, float shift, uint16_t *out) {
  __m512 s = _mm512_set1_ps(shift), total0 = _mm512_setzero_ps(), total1 = _mm512_setzero_ps();
  long i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 e0 = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    __m512 e1 = attnc_exp_nonpositive_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), s));
    _mm512_storeu_ps((float *)(out + i), (__m512)_mm512_cvtne2ps_pbh(e1, e0));
    total0 = _mm512_add_ps(total0, e0);
    total1 = _mm512_add_ps(total1, e1);
  }
  float total = _mm512_reduce_add_ps(_mm512_add_ps(total0, total1));
  if (i < n) {
    /* a rest shorter than 32 (not reached from attnc_attention_run, whose widths are whole panels) */
    float rest[32];
    memcpy(rest, x + i, sizeof(float) * (size_t)(n - i));
    total += attnc_exp_shift_sum_portable(rest, n - i, shift);
    for (long j = i; j < n; j++) out[j] = bf16_bits(rest[j - i]);
  }
  return total;
}

#endif

/* ---- driver ---- */

typedef struct {
  int strip, panel;
  /* 1: q, the packed keys and values and the probabilities reach qk_strip and pv_strip as
   * bfloat16 pairs (AVX512-BF16); 0: as floats. */
  int bf16_operands;
  void (*qk_strip)(int, const float *, long, const float *, long, float, float *, long);
  void (*adjust_row)(float *, long, long, const attnc_attention_block *, const float *);
  float (*row_max)(const float *, long);
  float (*exp_sum)(float *, long, float);
  /* bf16_operands: the exponentials written as bfloat16 pairs for pv_strip (else NULL) */
  float (*exp_sum_bf16)(const float *, long, float, uint16_t *);
  void (*pv_strip)(int, const float *, long, const float *, long, long, float *, const float *);
  /* int8pv: the strip's probabilities as uint8 quads for pv_strip (else NULL) */
  void (*probabilities)(const float *, int, long, long, void *);
} tile_kernels;

int attnc_attention_native_bfloat16(int kernels) {
#ifdef ATTNC_X86
  /* -1 until asked; attnc_vector_math_uses_avx512 initialises the CPU feature query. */
  static int machine = -1;
  if (machine < 0) {
    machine = attnc_vector_math_uses_avx512() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
  }
  return kernels == ATTNC_ATTENTION_WIDEST && machine;
#else
  return 0;
#endif
}

/* The widest kernels the machine runs (AVX-512, AVX2, plain C) up to the block's limit; in
 * bfloat16 precision the AVX512-BF16 products where the machine has them, else the float32 loops
 * (on rounded operands). In int8 precision P·V as in bfloat16, Q·Kᵀ on int8 panels of 32 keys
 * (attnc_attention_int8.h), with AVX512-VNNI under the widest limit where the machine has it; in
 * int8pv P·V on uint8 probabilities and int8 values too, the softmax as in float32. */
static tile_kernels kernels_for(int limit, int precision) {
  const int widest = limit == ATTNC_ATTENTION_WIDEST;
  if (precision == ATTNC_ATTENTION_INT8 || precision == ATTNC_ATTENTION_INT8PV) {
    const int pv8 = precision == ATTNC_ATTENTION_INT8PV;
    tile_kernels chosen = kernels_for(limit, pv8 ? ATTNC_ATTENTION_FLOAT32 : ATTNC_ATTENTION_BFLOAT16);
    chosen.panel = attnc_attention_int8_panel_width();
    chosen.qk_strip = widest ? attnc_attention_int8_qk_strip_native : attnc_attention_int8_qk_strip_portable;
    if (pv8) {
      chosen.pv_strip = widest ? attnc_attention_int8_pv_strip_native : attnc_attention_int8_pv_strip_portable;
      chosen.probabilities =
          widest ? attnc_attention_int8_quantize_probabilities_native : attnc_attention_int8_quantize_probabilities_portable;
    }
    return chosen;
  }
#ifdef ATTNC_X86
  if (precision == ATTNC_ATTENTION_BFLOAT16 && attnc_attention_native_bfloat16(limit)) {
    return (tile_kernels){STRIP_AVX512, PANEL_AVX512, 1, qk_strip_bf16, adjust_row_avx512, row_max_avx512, exp_sum_avx512, exp_sum_bf16,
                          pv_strip_bf16, NULL};
  }
  if (limit == ATTNC_ATTENTION_WIDEST && attnc_vector_math_uses_avx512()) {
    return (tile_kernels){STRIP_AVX512, PANEL_AVX512, 0, qk_strip_avx512, adjust_row_avx512, row_max_avx512, exp_sum_avx512, NULL,
                          pv_strip_avx512, NULL};
  }
  if (limit != ATTNC_ATTENTION_PORTABLE && attnc_vector_math_uses_avx2()) {
    return (tile_kernels){STRIP_AVX2, PANEL_AVX2, 0, qk_strip_avx2, adjust_row_avx2, row_max_avx2, exp_sum_avx2, NULL, pv_strip_avx2, NULL};
  }
#endif
  return (tile_kernels){STRIP_AVX2, PANEL_AVX2, 0, qk_strip_portable, adjust_row_portable, row_max_portable, attnc_exp_shift_sum_portable,
                        NULL, pv_strip_portable, NULL};
}

void attnc_attention_pack_keys(const float *k, long keys, long depth, int kernels, int precision, float *packed) {
  const tile_kernels chosen = kernels_for(kernels, precision);
  if (chosen.bf16_operands) {
    pack_keys_bf16(k, keys, depth, (uint16_t *)packed);
    return;
  }
  pack_keys(k, keys, depth, chosen.panel, packed);
  if (precision == ATTNC_ATTENTION_BFLOAT16) {
    round_floats(packed, (keys + chosen.panel - 1) / chosen.panel * chosen.panel * depth, packed);
  }
}

void attnc_attention_pack_values(const float *v, long keys, long value_depth, int kernels, float *packed) {
  if (kernels_for(kernels, ATTNC_ATTENTION_BFLOAT16).bf16_operands) {
    pack_values_bf16(v, keys, value_depth, (uint16_t *)packed);
  } else {
    round_floats(v, keys * value_depth, packed);
  }
}

/* Visible (query, key) pairs of strip rows [first, first + strip_rows) in keys [start, start + limit). */
static long visible_pairs(const attnc_attention_block *b, long first, long strip_rows, long start, long limit) {
  if (!b->causal) return strip_rows * limit;
  long total = 0;
  for (long query = first; query < first + strip_rows; query++) total += max_long(0, min_long(limit, query + b->diagonal + 1 - start));
  return total;
}

/* Whether skip-softmax drops this strip's tile: every row's block maximum more than skip_below
 * under its running maximum, and no NaN score (which must still reach its row). */
static int skips_tile(const attnc_attention_block *b, const float *block_max, const float *maxima, const float *strip,
                      int strip_rows, long width, long stride) {
  if (!(b->skip_below > 0 && b->skip_below < INFINITY)) return 0;
  for (int r = 0; r < strip_rows; r++) {
    if (!(block_max[r] < maxima[r] - b->skip_below)) return 0;
  }
  for (int r = 0; r < strip_rows; r++) {
    for (long j = 0; j < width; j++) {
      if (strip[r * stride + j] != strip[r * stride + j]) return 0;
    }
  }
  return 1;
}

void attnc_attention_run(const attnc_attention_block *b) {
  const tile_kernels kernels = kernels_for(b->kernels, b->precision);
  const int int8pv = b->precision == ATTNC_ATTENTION_INT8PV, int8 = b->precision == ATTNC_ATTENTION_INT8 || int8pv;
  const int rounded = b->precision != ATTNC_ATTENTION_FLOAT32, paired = kernels.bf16_operands;
  const long rows = b->rows, depth = b->depth, value_depth = b->value_depth, stride = b->key_block;
  const long panel = kernels.panel;
  workspace w = {b->scratch, 0, 0, 0};
  w.maxima = w.strip + STRIP * stride;
  w.sums = w.maxima + rows;
  w.corrections = w.sums + rows;
  /* The operands as the products read them: per query row and per key, `query_units` and
   * `key_units` 32-bit units (floats, or bfloat16 pairs); per key of V, `value_units`. */
  float *queries = w.corrections + STRIP;
  uint16_t *probabilities = (uint16_t *)(queries + rows * (depth + 1));
  const long query_units = int8 ? attnc_attention_int8_query_units(depth) : paired ? pairs(depth) : depth;
  const long key_units = int8 ? attnc_attention_int8_key_units(depth) : query_units;
  const long value_units = int8pv ? value_columns(value_depth) / 4 : paired ? value_columns(value_depth) / 2 : value_depth;
  /* In int8pv the packed values start with their column scales (applied at the end). */
  const float *values = int8pv ? b->v + value_columns(value_depth) : b->v;
  const float *q = b->q;
  if (int8) attnc_attention_int8_quantize_queries(b->q, rows, depth, b->kernels == ATTNC_ATTENTION_WIDEST, queries);
  else if (paired) pair_rows(b->q, rows, depth, (uint16_t *)queries);
  else if (rounded) round_floats(b->q, rows * depth, queries);
  if (rounded) q = queries;
  for (long r = 0; r < rows; r++) {
    w.maxima[r] = -INFINITY;
    w.sums[r] = 0;
  }
  memset(b->y, 0, sizeof(float) * rows * value_depth);

  for (long start = 0; start < b->key_end; start += b->key_block) {
    const long columns = min_long(b->key_block, b->key_end - start);
    const float *packed = b->packed_keys + start * key_units;
    const int dropped = b->keep_blocks && !b->keep_blocks[start / b->key_block];
    for (long first = 0; first < rows; first += kernels.strip) {
      const int strip_rows = (int)min_long(kernels.strip, rows - first);
      /* Columns the strip's last row can see; none: the strip skips this block. */
      long limit = columns;
      if (b->causal) limit = min_long(columns, first + strip_rows + b->diagonal - start);
      if (limit <= 0) continue;
      if (dropped) {
        if (b->tile_counts) b->tile_counts[2] += visible_pairs(b, first, strip_rows, start, limit);
        continue;
      }
      const long width = (limit + panel - 1) / panel * panel;
      kernels.qk_strip(strip_rows, q + first * query_units, depth, packed, width / panel, b->scale, w.strip, stride);
      float block_max[STRIP];
      for (int r = 0; r < strip_rows; r++) {
        const long query = first + r;
        float *row = w.strip + r * stride;
        long visible = b->causal ? max_long(0, min_long(limit, query + b->diagonal + 1 - start)) : limit;
        const float *term = b->term ? b->term + query * b->term_query_stride + start * b->term_key_stride : 0;
        kernels.adjust_row(row, width, visible, b, term);
        block_max[r] = kernels.row_max(row, width);
      }
      const int skipped = skips_tile(b, block_max, w.maxima + first, w.strip, strip_rows, width, stride);
      if (b->tile_counts) b->tile_counts[skipped ? 1 : 0] += visible_pairs(b, first, strip_rows, start, limit);
      if (skipped) continue;
      for (int r = 0; r < strip_rows; r++) {
        w.corrections[r] = update_row(w.strip + r * stride, width, block_max[r], &w.maxima[first + r], &w.sums[first + r],
                                      kernels.exp_sum, kernels.exp_sum_bf16, paired ? probabilities + r * stride : NULL);
      }
      const float *p = w.strip;
      long p_stride = stride;
      if (paired) {
        p = (const float *)probabilities, p_stride = stride / 2;
      } else if (kernels.probabilities) {
        kernels.probabilities(w.strip, strip_rows, width, stride, probabilities);
        p = (const float *)probabilities, p_stride = stride / 4;
      } else if (rounded) {
        for (int r = 0; r < strip_rows; r++) round_floats(w.strip + r * stride, limit, w.strip + r * stride);
      }
      kernels.pv_strip(strip_rows, p, p_stride, values + start * value_units, value_depth, limit, b->y + first * value_depth,
                       w.corrections);
    }
  }

  for (long r = 0; r < rows; r++) {
    float sum = w.sums[r];
    float inverse = sum > 0 ? 1 / sum : 0;
    float *out = b->y + r * value_depth;
    if (b->zero_nan_rows && sum != sum) {
      memset(out, 0, sizeof(float) * value_depth);
      continue;
    }
    /* int8pv: times each value column's scale too */
    for (long c = 0; c < value_depth; c++) out[c] *= int8pv ? inverse * b->v[c] : inverse;
  }
}
