/* The library's one thread pool. Size from CFORMER_THREADS, default = online cores.
 * BLAS runs single-threaded inside it, so there is never a second pool fighting this one. */
#ifndef CF_CORE_THREADPOOL_H
#define CF_CORE_THREADPOOL_H

#include <stdint.h>

typedef void (*cf_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Split [0, n) into contiguous chunks of at least `grain` items and run fn on the pool;
 * returns when all are done. Calls from inside a pool task run serially (no nesting). */
void cf_parallel_for(int64_t n, int64_t grain, cf_range_fn fn, void *ctx);

int cf_threads_count(void); /* threads a parallel_for from here uses: 1 inside a pool task */
void cf_threads_set(int n); /* resize (0 = default); not while work runs */

#endif
