#ifndef ATTNC_ATTENTION_TILE_H
#define ATTNC_ATTENTION_TILE_H

/* The inner loops of exact fused attention (TiledAttention.swift) for one query block of one
 * (batch, query head): Y = softmax(softcap(scale·Q·Kᵀ) + term) · V with an online softmax over
 * key blocks. Q·Kᵀ and P·V are register-blocked tiles (6 query rows at a time) over keys packed
 * in panels, with 16-wide AVX-512 or 8-wide AVX2/FMA code where the machine has it (chosen at run
 * time) and plain C otherwise.
 *
 * In bfloat16 precision Q, K, V and the probabilities P are rounded to bfloat16 (round to nearest
 * even) and multiplied with float32 accumulation; the softmax (maxima, exponentials, sums) stays
 * float32, and the sums add the unrounded probabilities. With AVX512-BF16 (`vdpbf16ps`) K and V
 * are packed as bfloat16 pairs; elsewhere they are packed as rounded floats and the float32 loops
 * run on them: the same products, in another order. */

/* Which kernels a block may use: the widest the machine runs, at most AVX2, or plain C (tests
 * compare all three on one machine). */
enum { ATTNC_ATTENTION_WIDEST = 0, ATTNC_ATTENTION_AVX2 = 1, ATTNC_ATTENTION_PORTABLE = 2 };

/* Precision of the products Q·Kᵀ and P·V; ATTNC_ATTENTION_INT8: Q·Kᵀ in int8
 * (attnc_attention_int8.h), P·V as in bfloat16; ATTNC_ATTENTION_INT8PV: both in 8-bit integers. */
enum { ATTNC_ATTENTION_FLOAT32 = 0, ATTNC_ATTENTION_BFLOAT16 = 1, ATTNC_ATTENTION_INT8 = 2, ATTNC_ATTENTION_INT8PV = 3 };

/* One query block: rows query rows of one (batch, query head) against keys 0..<key_end of its
 * key/value head. */
typedef struct {
  const float *q;              /* [rows, depth] */
  /* the key head as attnc_attention_pack_keys packed it (in int8, attnc_attention_int8_pack_keys) */
  const float *packed_keys;
  /* [keys, value_depth] in float32 precision; in bfloat16 and int8 the values as
   * attnc_attention_pack_values packed them, in int8pv as attnc_attention_int8_pack_values. */
  const float *v;
  float *y;                    /* [rows, value_depth]: written, never read before */
  /* Additive term of query row 0, key 0 (NULL for none); the row r, key j entry is
   * term[r·term_query_stride + j·term_key_stride], term_key_stride 0 or 1. */
  const float *term;
  long term_query_stride, term_key_stride;
  long rows, depth, value_depth;
  /* Keys at or past key_end are not looked at (causal blocks stop at their last diagonal). */
  long key_end;
  /* Keys per online-softmax step; a multiple of attnc_attention_panel_width(). */
  long key_block;
  /* causal != 0: query row r sees key j only when j <= r + diagonal. */
  int causal;
  long diagonal;
  float scale;
  /* > 0: scores become softcap·tanh(score / softcap) before the term is added. */
  float softcap;
  /* ATTNC_ATTENTION_WIDEST, _AVX2 or _PORTABLE, and ATTNC_ATTENTION_FLOAT32 or _BFLOAT16, as when
   * the keys (and values) were packed. */
  int kernels, precision;
  /* attnc_attention_scratch_floats(rows, key_block, depth) floats, owned by the caller. */
  float *scratch;
  /* != 0: a row whose probabilities are NaN (a NaN score) gives zeros, as SDPA exports' guard
   * Where(IsNaN(p), 0, p) defines; 0: it gives NaN, as a plain softmax. */
  int zero_nan_rows;
  /* Skip-softmax (0 or +inf: never): a key block whose every row of a query strip scores more than
   * skip_below under that row's running maximum adds less than e^-skip_below of the row's sum, so
   * its exponentials and P·V are skipped (its Q·Kᵀ is computed to know). */
  float skip_below;
  /* Block-sparse attention (NULL: every block): key block i, keys i·key_block..<(i + 1)·key_block,
   * is visited only when keep_blocks[i] != 0. */
  const unsigned char *keep_blocks;
  /* NULL, or 3 counters of visible (query, key) pairs the call adds to: [0] scored and attended,
   * [1] scored but skipped by skip_below, [2] in blocks keep_blocks leaves out. */
  long *tile_counts;
} attnc_attention_block;

/* Keys per packed panel of the widest kernels; key_block must be a multiple of it. */
long attnc_attention_panel_width(void);

/* Floats of scratch that attnc_attention_run needs. */
long attnc_attention_scratch_floats(long rows, long key_block, long depth);

/* Floats of one packed key head (either precision). */
long attnc_attention_packed_floats(long keys, long depth);

/* Packs one key head k [keys, depth] into panels for the kernels `kernels` will choose in
 * `precision` (attnc_attention_packed_floats(keys, depth) floats at `packed`). */
void attnc_attention_pack_keys(const float *k, long keys, long depth, int kernels, int precision, float *packed);

/* Floats of one value head packed for bfloat16 precision. */
long attnc_attention_packed_value_floats(long keys, long value_depth);

/* Packs one value head v [keys, value_depth] for bfloat16 precision with the kernels `kernels`
 * will choose (attnc_attention_packed_value_floats(keys, value_depth) floats at `packed`). */
void attnc_attention_pack_values(const float *v, long keys, long value_depth, int kernels, float *packed);

/* Whether bfloat16 precision with `kernels` multiplies with AVX512-BF16 (1) or rounds and runs the
 * float32 loops (0). */
int attnc_attention_native_bfloat16(int kernels);

/* Computes the block's output rows. A row whose visible keys all score −inf gives zeros; a NaN
 * score makes its row NaN, or zeros under zero_nan_rows. */
void attnc_attention_run(const attnc_attention_block *block);

#endif
