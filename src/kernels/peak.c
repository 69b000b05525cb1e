/* Measured machine limits for benchmarks: read bandwidth and peak multiply-add rates, each
 * thread of the pool running the same loop so the figure is for the pool as a whole. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/peak.h"
#include "core/threadpool.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct read_task {
    const uint64_t *buf;
    size_t words;
    _Atomic uint64_t sink;
} read_task;

static uint64_t read_sum_portable(const uint64_t *p, size_t n)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        a += p[i], b += p[i + 1], c += p[i + 2], d += p[i + 3];
    for (; i < n; i++)
        a += p[i];
    return a + b + c + d;
}

static void read_range(void *ctx, int64_t c0, int64_t c1)
{
    read_task *t = ctx;
    size_t chunk = t->words / 64, n = (size_t)(c1 - c0) * chunk;
    const uint64_t *p = t->buf + (size_t)c0 * chunk;
    uint64_t s = cf_kernels_isa() == CF_ISA_AVX512 ? cf_read_sum_avx512(p, n) : read_sum_portable(p, n);
    atomic_fetch_add(&t->sink, s);
}

double cf_measure_read_gbs(size_t bytes)
{
    read_task t = {.words = bytes / 8 / 64 * 64};
    uint64_t *buf = malloc(t.words * 8);
    if (!buf || t.words == 0) {
        free(buf);
        return 0;
    }
    memset(buf, 1, t.words * 8);
    t.buf = buf;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) { /* best of 5: the machine may be shared */
        double t0 = now();
        cf_parallel_for(64, 1, read_range, &t);
        double gbs = (double)(t.words * 8) / (now() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    free(buf);
    return best;
}

typedef struct peak_task {
    cf_wtype type;
    _Atomic uint64_t ops;
} peak_task;

static void peak_range(void *ctx, int64_t i0, int64_t i1)
{
    peak_task *t = ctx;
    for (int64_t i = i0; i < i1; i++)
        atomic_fetch_add(&t->ops, cf_peak_loop_avx512(t->type, 1 << 22));
}

double cf_measure_peak_gflops(cf_wtype type)
{
    if (cf_kernels_isa() != CF_ISA_AVX512 || (type != CF_WTYPE_F32 && !cf_cpu_has_avx512_bf16_vnni()))
        return 0;
    int n = cf_threads_count();
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        peak_task t = {.type = type};
        double t0 = now();
        cf_parallel_for(n, 1, peak_range, &t);
        double g = (double)atomic_load(&t.ops) / (now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}
