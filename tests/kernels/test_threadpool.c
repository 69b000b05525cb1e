/* The library thread pool: every index runs exactly once, chunks respect the grain, nested calls
 * run serially without deadlock, resizing works, back-to-back dispatch does not lose jobs, and
 * two outside threads may submit at the same time. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/threadpool.h"

typedef struct count_ctx {
    atomic_int *hits;
    int64_t grain, n;
    atomic_int small_chunks;
} count_ctx;

static void count_range(void *vctx, int64_t b, int64_t e)
{
    count_ctx *c = vctx;
    if (e - b < c->grain && e - b != c->n)
        atomic_fetch_add(&c->small_chunks, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

static void check_cover(int64_t n, int64_t grain)
{
    atomic_int *hits = calloc((size_t)(n ? n : 1), sizeof *hits);
    count_ctx c = {hits, grain, n, 0};
    cf_parallel_for(n, grain, count_range, &c);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(atomic_load(&hits[i]), 1, "n=%ld grain=%ld: index %ld ran %d times", (long)n, (long)grain,
                     (long)i, atomic_load(&hits[i]));
    cr_assert_eq(atomic_load(&c.small_chunks), 0, "n=%ld grain=%ld: a chunk smaller than the grain", (long)n,
                 (long)grain);
    free(hits);
}

Test(threadpool, every_index_once_for_all_sizes)
{
    static const int64_t ns[] = {0, 1, 2, 3, 7, 64, 1000, 50257};
    static const int64_t grains[] = {0, 1, 3, 16, 100000};
    for (int t = 1; t <= 3; t++) {
        cf_threads_set(t);
        cr_assert_eq(cf_threads_count(), t);
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                check_cover(ns[i], grains[g]);
    }
}

static void inner_sum(void *vctx, int64_t b, int64_t e)
{
    atomic_long *sum = vctx;
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(sum, (long)i);
}

static void outer_nested(void *vctx, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) {
        cr_assert_eq(cf_threads_count(), 1, "inside a pool task the pool must look single-threaded");
        cf_parallel_for(100, 1, inner_sum, vctx); /* must run serially, not deadlock */
    }
}

Test(threadpool, nested_calls_run_serially, .timeout = 20)
{
    cf_threads_set(2);
    atomic_long sum = 0;
    cf_parallel_for(8, 1, outer_nested, &sum);
    cr_assert_eq(atomic_load(&sum), 8L * 4950L);
}

Test(threadpool, many_back_to_back_jobs, .timeout = 30)
{
    cf_threads_set(2);
    atomic_long sum = 0;
    for (int rep = 0; rep < 20000; rep++)
        cf_parallel_for(4, 1, inner_sum, &sum);
    cr_assert_eq(atomic_load(&sum), 20000L * 6L);
}

static void *submitter(void *arg)
{
    atomic_long *sum = arg;
    for (int rep = 0; rep < 2000; rep++)
        cf_parallel_for(10, 1, inner_sum, sum);
    return NULL;
}

Test(threadpool, concurrent_submitters, .timeout = 30)
{
    cf_threads_set(2);
    atomic_long a = 0, b = 0;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, submitter, &a);
    pthread_create(&tb, NULL, submitter, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(atomic_load(&a), 2000L * 45L);
    cr_assert_eq(atomic_load(&b), 2000L * 45L);
}

Test(threadpool, environment_sets_the_size)
{
    setenv("CFORMER_THREADS", "3", 1);
    cf_threads_set(0);
    cr_assert_eq(cf_threads_count(), 3);
    setenv("CFORMER_THREADS", "lots", 1); /* bad value: warn and fall back to the core count */
    cf_threads_set(0);
    cr_assert_geq(cf_threads_count(), 1);
    unsetenv("CFORMER_THREADS");
}
