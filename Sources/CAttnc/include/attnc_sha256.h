#ifndef ATTNC_SHA256_H
#define ATTNC_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4) compression of `blocks` 64-byte blocks at `data` into `state` (H0…H7) on
 * the x86 SHA extensions (sha256rnds2, sha256msg1/2). Returns 0 without touching `state` where
 * the CPU lacks them (or ATTNC_SHA256_PORTABLE is set), and the caller compresses the blocks
 * itself (SHA256.swift). */
int attnc_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);

#endif
