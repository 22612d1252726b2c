#ifndef ATTNC_MEMORY_H
#define ATTNC_MEMORY_H

/* Keeps freed large blocks in the heap instead of returning each one to the kernel (glibc's
 * default for blocks over its mmap threshold), so that the next large value reuses memory that
 * is already mapped rather than faulting in and zeroing fresh pages (on the project's VM a fresh
 * 128 MiB value costs 60-300 ms of page faults; a reused one under 1 ms). The process keeps its
 * peak heap until it exits. No-op where the C library is not glibc. */
void attnc_keep_freed_memory(void);

#endif
