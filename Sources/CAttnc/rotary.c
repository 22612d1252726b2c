#include "attnc_rotary.h"

#include <string.h>

void attnc_rotary_rows(const float *x, float *y, long rows, long depth, long rotary, int interleaved,
                       const float *cos, const float *sin, const long *table_offsets, long table_width) {
  const long half = rotary / 2;
  const int full = table_width == rotary;
  for (long r = 0; r < rows; r++) {
    const float *in = x + r * depth, *c = cos + table_offsets[r], *s = sin + table_offsets[r];
    float *out = y + r * depth;
    if (interleaved) {
      for (long k = 0; k < half; k++) {
        const long first = full ? 2 * k : k, second = full ? 2 * k + 1 : k;
        const float a = in[2 * k], b = in[2 * k + 1];
        out[2 * k] = a * c[first] - b * s[first];
        out[2 * k + 1] = b * c[second] + a * s[second];
      }
    } else {
      const float *c2 = full ? c + half : c, *s2 = full ? s + half : s;
      for (long k = 0; k < half; k++) {
        const float a = in[k], b = in[k + half];
        out[k] = a * c[k] - b * s[k];
        out[k + half] = b * c2[k] + a * s2[k];
      }
    }
    if (out != in && depth > rotary) memcpy(out + rotary, in + rotary, sizeof(float) * (depth - rotary));
  }
}
