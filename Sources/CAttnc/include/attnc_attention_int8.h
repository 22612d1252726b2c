#ifndef ATTNC_ATTENTION_INT8_H
#define ATTNC_ATTENTION_INT8_H

/* Q·Kᵀ of the fused attention tiles (attnc_attention_tile.h) in int8 precision, as SageAttention
 * (Zhang et al., "SageAttention: Accurate 8-Bit Attention for Plug-and-play Inference
 * Acceleration", 2024) computes it:
 *
 * - K is smoothed: each channel's mean over the keys of the head (finite values only) is
 *   subtracted. Every score of a query row then moves by the same q·mean, which the softmax
 *   ignores (exact under masks, causal cuts and additive terms; not under a softcap, which is
 *   why the caller turns smoothing off there).
 * - Q and the smoothed K are quantized to int8, symmetric: Q per block of
 *   attnc_attention_int8_query_rows() rows of the query block, K per panel of
 *   attnc_attention_int8_panel_width() keys, each block's scale max|x| / 127 and
 *   x8 = round_to_nearest_even(x · (127 / max|x|)), in float32. A row or key holding NaN or ±inf
 *   gets the scale NaN (its scores are NaN); the others' scales skip it.
 * - score[i][j] = scale · s_q(i) · s_k(j) · Σ_t q8[i][t]·k8[j][t], the sum exact in int32
 *   (depth up to 66,000). With AVX512-VNNI (vpdpbusd, u8 × s8) the query bytes are offset by
 *   +128 and each key's 128·Σ_t k8[j][t] is subtracted; elsewhere plain C sums the same
 *   integers. The packed layout does not depend on the machine.
 *
 * In ATTNC_ATTENTION_INT8PV precision P·V is 8-bit too (after SageAttention2's 8-bit P·V, with
 * int8 in place of its FP8): the probabilities p in
 * [0, 1] (against the row's running maximum) of each row and panel of 32 keys are scaled by their
 * largest, m: u8 = round_to_nearest_even(p · 255 / m) (a per-panel scale keeps the small
 * probabilities of a peaked row: one scale per row measured 5e-3 median attention error on real
 * ViT heads, per 32 keys 2.7e-3, bfloat16 8e-4). V is quantized per value column of the head,
 * s_c = max|v[·][c]| / 127 over all its keys, v8 = round_to_nearest_even(v · 127 / max|v[·][c]|).
 * Each panel's Σ_j u8[r][j]·v8[j][c] is exact in int32 (vpdpbusd where AVX512-VNNI is, plain C
 * elsewhere), added in float times m / 255, and the output multiplied by s_c at the end. A
 * column holding NaN or ±inf gets the scale NaN (that column of every output row is NaN, as a
 * float P·V makes it).
 *
 * Packed keys, one panel of W = attnc_attention_int8_panel_width() keys after another, in 32-bit
 * units: [⌈depth/4⌉][W] groups of four int8 channels, then [W] int32 128·Σ_t k8, then [W] float
 * scales (zeros past the last key). Quantized queries, a row after another: ⌈depth/4⌉ units of
 * four uint8 (q8 + 128), then the row's float scale. */

/* Keys per packed int8 panel (and per key scale). */
long attnc_attention_int8_panel_width(void);

/* Query rows per scale, counted from the first row of each query block. */
long attnc_attention_int8_query_rows(void);

/* 32-bit units of one packed key (its share of a panel) and of one quantized query row. */
long attnc_attention_int8_key_units(long depth);
long attnc_attention_int8_query_units(long depth);

/* Floats of one key head packed in int8. */
long attnc_attention_int8_packed_floats(long keys, long depth);

/* Packs key head k [keys, depth] (smoothed when `smooth` != 0) into
 * attnc_attention_int8_packed_floats(keys, depth) floats at `packed`. With `widest` != 0 the loops
 * run on AVX-512 where attnc_attention_int8_native(), else in plain C: the same bytes. */
void attnc_attention_int8_pack_keys(const float *k, long keys, long depth, int smooth, int widest, float *packed);

/* Quantizes rows q [rows, depth] into rows · attnc_attention_int8_query_units(depth) units
 * (`widest` as for the keys). */
void attnc_attention_int8_quantize_queries(const float *q, long rows, long depth, int widest, float *out);

/* Packed values of one head: value_columns = value_depth rounded up to 16 floats s_c (0 past
 * value_depth), then ⌈keys/4⌉ groups of four keys, each value_columns 32-bit units of four int8
 * (keys 4g..4g+3 of column c; zeros past the last key and value_depth). */
long attnc_attention_int8_value_columns(long value_depth);
long attnc_attention_int8_packed_value_floats(long keys, long value_depth);
void attnc_attention_int8_pack_values(const float *v, long keys, long value_depth, float *packed);

/* Rows [0, rows) of a probability strip (floats in [0, 1], rows `stride` floats apart), columns
 * [0, width) (a multiple of 32), as round(p · 255 / m) bytes into out (rows `stride` bytes apart;
 * NaN gives 0), m the largest p of the row's panel of 32; after the bytes of 12 rows, the factors
 * m / 255, stride / 32 floats a row. On AVX-512 (native, only where attnc_attention_int8_native())
 * or in plain C. */
void attnc_attention_int8_quantize_probabilities_native(const float *strip, int rows, long width, long stride, void *out);
void attnc_attention_int8_quantize_probabilities_portable(const float *strip, int rows, long width, long stride, void *out);

/* y[r][c] = corrections[r]·y[r][c] + Σ_panels (m / 255) · Σ_{j<count} u8[r][j]·v8[j][c] (not yet
 * times s_c) for `rows` (at most 12) rows: p the quantized probabilities and their factors as
 * attnc_attention_int8_quantize_probabilities writes them (rows p_stride 32-bit units apart, four
 * keys a unit), v the packed values' groups from the block's first key on. The signature is the
 * tiles' pv_strip. */
void attnc_attention_int8_pv_strip_native(int rows, const float *p, long p_stride, const float *v, long value_depth, long count,
                                          float *y, const float *corrections);
void attnc_attention_int8_pv_strip_portable(int rows, const float *p, long p_stride, const float *v, long value_depth,
                                            long count, float *y, const float *corrections);

/* Whether the widest int8 products run on AVX512-VNNI (1) or plain C (0) on this machine. */
int attnc_attention_int8_native(void);

/* The scores strip[r][p·W + c] = scale · s_q · s_k · Σ q8·k8 of `rows` (at most 12) quantized
 * query rows against `panels` packed panels, rows `stride` floats apart: on AVX512-VNNI (only
 * where attnc_attention_int8_native()) or in plain C. The signature is the tiles' qk_strip. */
void attnc_attention_int8_qk_strip_native(int rows, const float *q, long depth, const float *packed, long panels,
                                          float scale, float *strip, long stride);
void attnc_attention_int8_qk_strip_portable(int rows, const float *q, long depth, const float *packed, long panels,
                                            float scale, float *strip, long stride);

#endif
