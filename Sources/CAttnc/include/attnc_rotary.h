#ifndef ATTNC_ROTARY_H
#define ATTNC_ROTARY_H

/* Rotary position embedding on rows of features (RotaryEmbedding.swift): each row's first
 * `rotary` features are turned in pairs by the row's angles, the rest copied. A pair is
 * (k, k + rotary/2) (the rotate-half form of Llama, GPT-NeoX, Phi and ONNX's RotaryEmbedding), or
 * (2k, 2k + 1) when interleaved (GPT-J):
 *
 *   y[first]  = x[first]·cos[first]  − x[second]·sin[first]
 *   y[second] = x[second]·cos[second] + x[first]·sin[second]
 *
 * with the row's cos/sin table of `table_width` entries: `rotary` (one angle per feature, as the
 * exporters' graphs multiply them; the two features of a pair may have their own entries) or
 * `rotary / 2` (one per pair; both features read entry k). */

/* Row r of x and y is `depth` floats at r·depth; its tables start at cos + table_offsets[r] and
 * sin + table_offsets[r]. y may be x. */
void attnc_rotary_rows(const float *x, float *y, long rows, long depth, long rotary, int interleaved,
                       const float *cos, const float *sin, const long *table_offsets, long table_width);

#endif
