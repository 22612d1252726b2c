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
