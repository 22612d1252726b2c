/* SHA-256 block compression on the x86 SHA extensions (attnc_sha256.h).
 *
 * The extensions keep the eight working variables as two vectors, ABEF and CDGH;
 * sha256rnds2 does two rounds with the two message-plus-constant words in the low half of its
 * third operand, so each group of four rounds is two rnds2 calls. The schedule W16…W63 is built
 * four words at a time: W[t] for t ≥ 16 is msg2(msg1(W[t-16], W[t-12]) + W[t-7], W[t-1]) by
 * groups, the W[t-7] term being the four words that straddle the last two groups (alignr). */
#include "attnc_sha256.h"

#include <stdlib.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3"))) static void compress_sha(uint32_t state[8], const uint8_t *data,
                                                                     size_t blocks) {
  /* Big-endian words: reverse the bytes of each 32-bit lane. */
  const __m128i byte_order = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i dcba = _mm_loadu_si128((const __m128i *)state), hgfe = _mm_loadu_si128((const __m128i *)(state + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  for (size_t block = 0; block < blocks; block++, data += 64) {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    __m128i w[4];
    for (int g = 0; g < 16; g++) {
      if (g < 4) w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), byte_order);
      __m128i words = _mm_add_epi32(w[g % 4], _mm_loadu_si128((const __m128i *)(round_constants + 4 * g)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, words);
      /* The next group's words, from the last four groups (needs msg1 of W[g-3] done below). */
      if (g >= 3 && g < 15) {
        __m128i next = _mm_add_epi32(w[(g + 1) % 4], _mm_alignr_epi8(w[g % 4], w[(g + 3) % 4], 4));
        w[(g + 1) % 4] = _mm_sha256msg2_epu32(next, w[g % 4]);
      }
      abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(words, 0x0E));
      /* First half of the schedule for the group three ahead. */
      if (g >= 1 && g <= 12) w[(g + 3) % 4] = _mm_sha256msg1_epu32(w[(g + 3) % 4], w[g % 4]);
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)state, _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128((__m128i *)(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

/* CPUID leaf 7, subleaf 0, EBX bit 29: the SHA extensions. */
static int machine_has_sha(void) {
  static int state = -1;
  if (state < 0) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const char *forced = getenv("ATTNC_SHA256_PORTABLE");
    state = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & (1u << 29)) != 0 && __builtin_cpu_supports("sse4.1")
            && !(forced && *forced && forced[0] != '0');
  }
  return state;
}

int attnc_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
  if (!machine_has_sha()) return 0;
  if (blocks) compress_sha(state, data, blocks);
  return 1;
}

#else

int attnc_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks) {
  (void)state, (void)data, (void)blocks;
  return 0;
}

#endif
