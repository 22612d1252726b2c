#include "attnc_memory.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void attnc_keep_freed_memory(void) {
#if defined(__GLIBC__)
  /* Large blocks from the heap, never mmap (whose threshold cannot exceed 32 MiB), and a heap
   * that is not trimmed: freed memory stays mapped for the next value. */
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
