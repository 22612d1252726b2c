#ifndef ATTNC_POOL_H
#define ATTNC_POOL_H

/* attnc's worker threads: one pool for every parallel loop and for the GEMMs it splits (OpenBLAS
 * then runs on one thread inside each part), so that a region starts without waking a sleeping
 * thread and no two thread pools compete for the cores.
 *
 * A worker that finishes a region spins for about ATTNC_POOL_SPIN_CYCLES (TSC ticks) waiting for
 * the next one, then sleeps on a condition variable until woken; for a tenth of a second after
 * the scheduler has taken its core for other threads 8 times within a tenth of a second, it spins
 * only ATTNC_POOL_CONTENDED_SPIN_CYCLES (a busy machine: spinning would use up its share of the
 * core, and the next region would wait for it). */

typedef void (*attnc_pool_task)(void *context, int part);

/* Sets the number of threads a region runs on, the caller included (1 = no workers; at most
 * ATTNC_POOL_MAX_THREADS). Starts or stops workers as needed, after any region in flight ends. */
void attnc_pool_configure(int threads);

/* The configured thread count. */
int attnc_pool_threads(void);

/* Runs task(context, p) for p in 0..<parts (at most 65535) and returns when all are done. The
 * caller and the workers claim parts one at a time, so a worker that is not running (another
 * process has its core) takes none and the caller does its share; which thread runs a part is
 * not fixed. Runs the parts one after another on the caller when parts ≤ 1, when called from
 * inside a part (a nested region), or when another thread is running a region. */
void attnc_pool_run(int parts, attnc_pool_task task, void *context);

/* 1 inside a part of a region (on any thread), else 0. */
int attnc_pool_inside(void);

enum { ATTNC_POOL_MAX_THREADS = 64 };

#endif
