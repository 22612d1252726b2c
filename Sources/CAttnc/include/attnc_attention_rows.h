#ifndef ATTNC_ATTENTION_ROWS_H
#define ATTNC_ATTENTION_ROWS_H

/* Exact attention for a few query rows over a long key sequence: a decoding step on a KV cache
 * (TiledAttention.swift picks it for at most attnc_attention_rows_limit() query rows). One call
 * covers the query heads that read one key/value head (GQA groups). Keys are read in place, in
 * chunks, with no packing: each chunk's scores for every query row are computed while the chunk
 * is in cache, the rows are exponentiated against their maxima, and the outputs are the
 * probability-weighted sums of the value rows. K and V are streamed from memory once per call.
 *
 * The keys and values may come in two runs (a cache and the step's new ones, `Concat(past, new)`
 * as exporters write it); with present_k/present_v set, the call also writes the concatenation
 * there, with streaming stores, as it reads each chunk: the copy and the attention share one pass
 * over the cache. Same math and masking rules as attnc_attention_run. */

typedef struct {
  const float *q;              /* [group, rows, depth] */
  /* Keys and values in two runs: run i has key_runs[i] rows (key_runs[1] may be 0). */
  const float *k[2];           /* [key_runs[i], depth] */
  const float *v[2];           /* [key_runs[i], value_depth] */
  long key_runs[2];
  /* NULL, or [key_runs[0] + key_runs[1], depth | value_depth]: written with the runs in order. */
  float *present_k, *present_v;
  float *y;                    /* [group, rows, value_depth]: written */
  /* Additive term of head 0, row 0, key 0 (NULL for none): head g, row r, key j is
   * term[g·term_head_stride + r·term_query_stride + j·term_key_stride], term_key_stride 0 or 1. */
  const float *term;
  long term_head_stride, term_query_stride, term_key_stride;
  long group, rows, depth, value_depth;
  /* As in attnc_attention_block: row r sees key j only when j <= r + diagonal (if causal != 0);
   * scores are scaled, then softcapped (softcap > 0); kernels limits the instruction sets; a
   * NaN-score row gives zeros under zero_nan_rows. */
  int causal;
  long diagonal;
  float scale, softcap;
  int kernels, zero_nan_rows;
  /* attnc_attention_rows_scratch_floats(group · rows, keys) floats, owned by the caller. */
  float *scratch;
} attnc_attention_rows;

/* The most query rows per head the row kernel is meant for (more: the tiled kernel is faster). */
long attnc_attention_rows_limit(void);

/* Floats of scratch attnc_attention_rows_run needs for `queries` query rows over `keys` keys. */
long attnc_attention_rows_scratch_floats(long queries, long keys);

/* Computes every row of the block (and writes the present keys and values when asked). A row
 * whose visible keys all score −inf gives zeros. */
void attnc_attention_rows_run(const attnc_attention_rows *block);

#endif
