#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "attnc_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define ATTNC_PAUSE() _mm_pause()
#define ATTNC_TICKS() __rdtsc()
#else
#include <time.h>
#define ATTNC_PAUSE() ((void)0)
static unsigned long long attnc_ticks(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}
#define ATTNC_TICKS() attnc_ticks()
#endif

/* About 0.5 ms at 2-4 GHz: longer than the serial work between two regions of a run, short
 * enough that an idle worker leaves the core soon after a run ends. */
#define ATTNC_POOL_SPIN_CYCLES (1ull << 21)

/* About 40 µs: the spin of a worker that another process has been taking the core from. A
 * spinning thread uses up its share of a contended core, so when the next region comes the
 * scheduler leaves it waiting for the core, and the region for it; a thread that sleeps instead
 * runs at once when woken. The gaps between the regions of a short run stay within the spin.
 * Measured with a busy loop on one of the 2 cores (BENCHMARKS.md, session 18): bert_mini at 128
 * tokens 28.9 ms before, 21.4 ms now; gpt2_mini 14.3 and 10.3 ms; bert_tiny 0.47 and 0.46 ms. */
#define ATTNC_POOL_CONTENDED_SPIN_CYCLES (1ull << 17)

/* About 0.1 s: the window over which a worker counts the times the scheduler took its core
 * (its involuntary context switches), and how long it keeps the short spin after a window with
 * at least ATTNC_POOL_CONTENDED_SWITCHES of them. An idle machine takes a worker's core a few
 * times a second (2 to 3 times a window on this VM); another busy process, about 20 times. */
#define ATTNC_POOL_CONTENDED_TICKS (1ull << 28)
#define ATTNC_POOL_CONTENDED_SWITCHES 8

static struct {
  int threads;   /* caller included */
  int workers;   /* started: threads - 1 */
  pthread_t handles[ATTNC_POOL_MAX_THREADS];

  /* The region: written by the caller before it publishes `generation`. */
  attnc_pool_task task;
  void *context;
  int parts;

  _Atomic unsigned long generation; /* one more per region */
  unsigned long first_generation;   /* at the workers' start (they may begin after a region does) */
  /* The parts left to claim: (generation << 32) | (next part << 16) | parts. A thread claims a
   * part by advancing `next` with a compare-and-swap that also checks the region's generation. */
  _Atomic unsigned long long claims;
  _Atomic int done; /* parts of the current region finished */
  _Atomic int busy;                 /* a thread is running a region */
  int stopping;                     /* under lock */

  pthread_mutex_t lock;
  pthread_cond_t wake;
  int sleepers; /* under lock */
} pool = {.threads = 1, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static _Thread_local int inside;

int attnc_pool_inside(void) { return inside; }

int attnc_pool_threads(void) { return pool.threads; }

/* How long this worker spins before it sleeps, given the time: ATTNC_POOL_CONTENDED_SPIN_CYCLES
 * within ATTNC_POOL_CONTENDED_TICKS of a window in which the scheduler took its core
 * ATTNC_POOL_CONTENDED_SWITCHES times (its involuntary context switches), else
 * ATTNC_POOL_SPIN_CYCLES. */
static unsigned long long spin_budget(unsigned long long now) {
  static _Thread_local long switches = -1;
  static _Thread_local unsigned long long window_start, contended_until;
  static _Thread_local long window_switches;
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) == 0) {
    if (switches >= 0) window_switches += usage.ru_nivcsw - switches;
    switches = usage.ru_nivcsw;
  }
  if (window_switches >= ATTNC_POOL_CONTENDED_SWITCHES) contended_until = now + ATTNC_POOL_CONTENDED_TICKS;
  if (now - window_start > ATTNC_POOL_CONTENDED_TICKS || window_switches >= ATTNC_POOL_CONTENDED_SWITCHES) {
    window_start = now;
    window_switches = 0;
  }
  return now < contended_until ? ATTNC_POOL_CONTENDED_SPIN_CYCLES : ATTNC_POOL_SPIN_CYCLES;
}

/* Waits until `generation` differs from `seen`: spinning first (`spin_budget`), then asleep.
 * Returns the new generation, or `seen` when the pool is stopping. */
static unsigned long wait_for_region(unsigned long seen) {
  const unsigned long long start = ATTNC_TICKS(), spin = spin_budget(start);
  for (;;) {
    unsigned long now = atomic_load_explicit(&pool.generation, memory_order_acquire);
    if (now != seen) return now;
    if (ATTNC_TICKS() - start > spin) break;
    ATTNC_PAUSE();
  }
  pthread_mutex_lock(&pool.lock);
  unsigned long now;
  while ((now = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen && !pool.stopping) {
    pool.sleepers++;
    pthread_cond_wait(&pool.wake, &pool.lock);
    pool.sleepers--;
  }
  int stopping = pool.stopping;
  pthread_mutex_unlock(&pool.lock);
  return stopping ? seen : now;
}

/* Claims and runs parts of region `generation` until none is left (or the region is another).
 * A claimed part keeps its region open (the caller waits for every part to be done), so the
 * task and context read after a successful claim are that region's. */
static void run_parts(unsigned long generation) {
  unsigned long long current = atomic_load_explicit(&pool.claims, memory_order_acquire);
  for (;;) {
    unsigned next = (unsigned)(current >> 16) & 0xffffu, parts = (unsigned)current & 0xffffu;
    if ((unsigned)(current >> 32) != (unsigned)generation || next >= parts) return;
    if (!atomic_compare_exchange_weak_explicit(&pool.claims, &current, current + (1ull << 16),
                                               memory_order_acq_rel, memory_order_acquire))
      continue;
    pool.task(pool.context, (int)next);
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    current = atomic_load_explicit(&pool.claims, memory_order_acquire);
  }
}

static void *worker_main(void *argument) {
  (void)argument;
  unsigned long seen = pool.first_generation;
  for (;;) {
    unsigned long now = wait_for_region(seen);
    if (now == seen) return 0; /* stopping */
    seen = now;
    inside = 1;
    run_parts(now);
    inside = 0;
  }
}

static void stop_workers(void) {
  pthread_mutex_lock(&pool.lock);
  pool.stopping = 1;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  for (int i = 0; i < pool.workers; i++) pthread_join(pool.handles[i], 0);
  pool.workers = 0;
  pool.stopping = 0;
}

void attnc_pool_configure(int threads) {
  if (threads < 1) threads = 1;
  if (threads > ATTNC_POOL_MAX_THREADS) threads = ATTNC_POOL_MAX_THREADS;
  /* Take the pool from any region in flight; regions started meanwhile run serially. */
  int expected = 0;
  while (!atomic_compare_exchange_weak_explicit(&pool.busy, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
    expected = 0;
    sched_yield();
  }
  if (threads != pool.threads || pool.workers != threads - 1) {
    stop_workers();
    pool.first_generation = atomic_load_explicit(&pool.generation, memory_order_relaxed);
    for (int i = 1; i < threads; i++) {
      if (pthread_create(&pool.handles[pool.workers], 0, worker_main, (void *)(long)i) != 0) break;
      pool.workers++;
    }
    pool.threads = pool.workers + 1; /* fewer when a thread could not be started */
  }
  atomic_store_explicit(&pool.busy, 0, memory_order_release);
}

static void run_serially(int parts, attnc_pool_task task, void *context) {
  int was_inside = inside;
  inside = 1;
  for (int p = 0; p < parts; p++) task(context, p);
  inside = was_inside;
}

void attnc_pool_run(int parts, attnc_pool_task task, void *context) {
  int expected = 0;
  if (parts <= 1 || inside ||
      !atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire, memory_order_relaxed)) {
    run_serially(parts, task, context);
    return;
  }
  const int threads = pool.threads;
  if (threads == 1) {
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    run_serially(parts, task, context);
    return;
  }
  if (parts > 0xffff) parts = 0xffff; /* callers split into a few parts per thread */
  pool.task = task;
  pool.context = context;
  pool.parts = parts;
  atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
  unsigned long generation = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
  atomic_store_explicit(&pool.claims, ((unsigned long long)(unsigned)generation << 32) | (unsigned)parts,
                        memory_order_release);
  atomic_store_explicit(&pool.generation, generation, memory_order_release);
  pthread_mutex_lock(&pool.lock);
  if (pool.sleepers > 0) pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);

  /* The caller claims parts too: a worker that has lost its core (a busy machine) takes none,
   * and the region ends when the parts are done, without waiting for it to wake. */
  inside = 1;
  run_parts(generation);
  inside = 0;

  for (unsigned spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < parts; spins++) {
    if (spins < 4096) ATTNC_PAUSE();
    else sched_yield(); /* a worker is running a part it claimed */
  }
  atomic_store_explicit(&pool.busy, 0, memory_order_release);
}
