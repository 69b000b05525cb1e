/* The library's one thread pool: n-1 workers plus the calling thread. A job is published by
 * bumping a generation word; workers spin on it briefly (back-to-back kernels in decode) and
 * then sleep on a futex. Chunks are claimed from an atomic counter, and the caller returns only
 * after every worker has checked out of the job, so no worker can touch a stale job. */
#include "core/threadpool.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#define CF_MAX_THREADS 256
#define CHUNKS_PER_THREAD 4
#define SPIN_NS 50000 /* spin this long before sleeping: covers the gaps between back-to-back kernels */

typedef struct pool_job {
    cf_range_fn fn;
    void *ctx;
    int64_t n;
    int n_chunks;
    atomic_int next_chunk;
} pool_job;

typedef struct pool {
    int n_threads; /* including the caller */
    pthread_t workers[CF_MAX_THREADS];
    atomic_uint generation;   /* bumped once per job; futex word for workers */
    atomic_int workers_busy;  /* workers still inside the current job; futex word for the caller */
    atomic_int sleepers;      /* workers blocked (or about to block) on `generation` */
    atomic_bool caller_sleeping;
    atomic_bool stop;
    unsigned start_generation; /* generation when the workers were created: no job before it */
    pool_job job;
} pool;

static pool g_pool;
static bool g_pool_started;
static atomic_int g_pool_size; /* n_threads once started, else 0; read without the lock */
static int g_requested_threads; /* 0 = from the environment */
static pthread_mutex_t g_submit_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool t_in_pool;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True while the spin budget that started at `start` lasts; reads the clock every 16 rounds. */
static bool keep_spinning(unsigned round, uint64_t start)
{
    cpu_relax();
    return (round & 15) != 15 || now_ns() - start < SPIN_NS;
}

#ifdef __linux__
static void futex_wait(void *addr, unsigned expected)
{
    syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}
static void futex_wake_all(void *addr) { syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }
#else
static void futex_wait(void *addr, unsigned expected)
{
    (void)addr;
    (void)expected;
    sched_yield();
}
static void futex_wake_all(void *addr) { (void)addr; }
#endif

static void run_chunks(pool_job *job)
{
    for (;;) {
        int c = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        if (c >= job->n_chunks)
            return;
        /* Balanced bounds: every chunk has floor or ceil of n / n_chunks items, never under the grain. */
        int64_t begin = job->n * c / job->n_chunks, end = job->n * (c + 1) / job->n_chunks;
        job->fn(job->ctx, begin, end);
    }
}

static unsigned wait_for_new_generation(pool *p, unsigned seen)
{
    uint64_t start = now_ns();
    for (unsigned i = 0;; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen)
            return g;
        if (!keep_spinning(i, start))
            break;
    }
    /* Announce the sleep before the final check so a publisher either sees us or we see it. */
    atomic_fetch_add(&p->sleepers, 1);
    for (;;) {
        unsigned g = atomic_load(&p->generation);
        if (g != seen) {
            atomic_fetch_sub(&p->sleepers, 1);
            return g;
        }
        futex_wait(&p->generation, seen);
    }
}

static void *worker_main(void *arg)
{
    pool *p = arg;
    t_in_pool = true;
    unsigned seen = p->start_generation;
    for (;;) {
        seen = wait_for_new_generation(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            return NULL;
        run_chunks(&p->job);
        if (atomic_fetch_sub(&p->workers_busy, 1) == 1 && atomic_load(&p->caller_sleeping))
            futex_wake_all(&p->workers_busy);
    }
}

static int threads_from_env(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cores > 0 ? (int)cores : 1;
    const char *env = getenv("CFORMER_THREADS");
    if (env && *env) {
        char *end = NULL;
        errno = 0;
        long v = strtol(env, &end, 10);
        if (errno || *end || v < 1 || v > CF_MAX_THREADS)
            cf_log_warn("CFORMER_THREADS='%s' is not a thread count in 1..%d; using %d", env, CF_MAX_THREADS, n);
        else
            n = (int)v;
    }
    return n < CF_MAX_THREADS ? n : CF_MAX_THREADS;
}

/* Called with g_submit_lock held. */
static void pool_start(void)
{
    pool *p = &g_pool;
    p->n_threads = g_requested_threads > 0 ? g_requested_threads : threads_from_env();
    atomic_store(&p->stop, false);
    atomic_store(&p->workers_busy, 0);
    atomic_store(&p->sleepers, 0);
    atomic_store(&p->caller_sleeping, false);
    p->start_generation = atomic_load(&p->generation);
    for (int i = 1; i < p->n_threads; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            cf_log_warn("thread pool: could not start worker %d; running with %d threads", i, i);
            p->n_threads = i;
            break;
        }
    }
    g_pool_started = true;
    atomic_store(&g_pool_size, p->n_threads);
}

/* Called with g_submit_lock held. */
static void pool_stop(void)
{
    pool *p = &g_pool;
    if (!g_pool_started)
        return;
    atomic_store_explicit(&p->stop, true, memory_order_release);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    futex_wake_all(&p->generation);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->workers[i], NULL);
    g_pool_started = false;
    atomic_store(&g_pool_size, 0);
}

static void wait_for_workers(pool *p)
{
    uint64_t start = now_ns();
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&p->workers_busy, memory_order_acquire) == 0)
            return;
        if (!keep_spinning(i, start))
            break;
    }
    atomic_store(&p->caller_sleeping, true);
    for (;;) {
        int busy = atomic_load(&p->workers_busy);
        if (busy == 0)
            break;
        futex_wait(&p->workers_busy, (unsigned)busy);
    }
    atomic_store(&p->caller_sleeping, false);
}

void cf_parallel_for(int64_t n, int64_t grain, cf_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    if (t_in_pool || n <= grain) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&g_submit_lock);
    if (!g_pool_started)
        pool_start();
    pool *p = &g_pool;
    /* A few chunks per thread, so a thread the OS delays does not hold up the rest. */
    int64_t max_chunks = n / grain, want = (int64_t)p->n_threads * CHUNKS_PER_THREAD;
    int n_chunks = max_chunks < want ? (int)max_chunks : (int)want;
    if (n_chunks <= 1 || p->n_threads == 1) {
        pthread_mutex_unlock(&g_submit_lock);
        t_in_pool = true;
        fn(ctx, 0, n);
        t_in_pool = false;
        return;
    }
    pool_job *job = &p->job;
    job->fn = fn;
    job->ctx = ctx;
    job->n = n;
    job->n_chunks = n_chunks;
    atomic_store_explicit(&job->next_chunk, 0, memory_order_relaxed);
    atomic_store_explicit(&p->workers_busy, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0)
        futex_wake_all(&p->generation);

    t_in_pool = true;
    run_chunks(job);
    t_in_pool = false;
    wait_for_workers(p);
    pthread_mutex_unlock(&g_submit_lock);
}

int cf_threads_count(void)
{
    if (t_in_pool)
        return 1;
    int size = atomic_load(&g_pool_size);
    if (size > 0)
        return size;
    pthread_mutex_lock(&g_submit_lock);
    if (!g_pool_started)
        pool_start();
    int n = g_pool.n_threads;
    pthread_mutex_unlock(&g_submit_lock);
    return n;
}

void cf_threads_set(int n)
{
    pthread_mutex_lock(&g_submit_lock);
    pool_stop();
    g_requested_threads = n > 0 ? (n < CF_MAX_THREADS ? n : CF_MAX_THREADS) : 0;
    pthread_mutex_unlock(&g_submit_lock);
}
