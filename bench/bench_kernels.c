/* Kernel benchmarks on the shapes GPT-2 and BERT-base use, next to this machine's measured read
 * bandwidth: matvec (M=1 decode) against cblas_sgemv, and GEMM split over the library pool against
 * plain OpenBLAS running its own threads. Prints one table per kernel family.
 *
 * usage: bench_kernels [--quick] [--only read|matvec|gemm|lowp|act]
 * Weights are rotated through a set larger than the last-level cache ("cold"), as in decoding a
 * model whose weights do not fit in cache; "hot" reuses one matrix. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bench_util.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_own.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"

#define COLD_BYTES ((size_t)512 << 20) /* well beyond a 32 MB L3 */

static double g_min_seconds = 0.4;

static float *alloc_random(size_t n, unsigned seed)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory allocating %zu floats\n", n);
        exit(1);
    }
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((int32_t)(s >> 8) - (1 << 23)) / (float)(1 << 23) * 0.1f;
    }
    return p;
}

/* Runs fn(ctx, iteration) until g_min_seconds pass; returns seconds per call. */
typedef void (*bench_fn)(void *ctx, int iter);
static double time_per_call(bench_fn fn, void *ctx)
{
    fn(ctx, 0); /* warm-up: page faults, pool start, BLAS buffers */
    int iters = 0;
    double t0 = bench_now(), t;
    do {
        fn(ctx, ++iters);
        t = bench_now();
    } while (t - t0 < g_min_seconds || iters < 3);
    return (t - t0) / iters;
}

/* ---- STREAM-style read ---------------------------------------------------------------- */

typedef struct read_ctx {
    const float *buf;
    int64_t n;
    double partial[256];
    int64_t per_thread;
} read_ctx;

__attribute__((target("avx512f"))) static float sum_avx512(const float *p, int64_t n)
{
    typedef float v16 __attribute__((vector_size(64)));
    v16 a = {0}, b = {0}, c = {0}, d = {0};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        v16 x0, x1, x2, x3;
        memcpy(&x0, p + i, 64);
        memcpy(&x1, p + i + 16, 64);
        memcpy(&x2, p + i + 32, 64);
        memcpy(&x3, p + i + 48, 64);
        a += x0, b += x1, c += x2, d += x3;
    }
    v16 s = a + b + c + d;
    float r = 0;
    for (int j = 0; j < 16; j++)
        r += s[j];
    for (; i < n; i++)
        r += p[i];
    return r;
}

static void read_range(void *vctx, int64_t b, int64_t e)
{
    read_ctx *c = vctx;
    for (int64_t t = b; t < e; t++) {
        int64_t lo = t * c->per_thread, hi = lo + c->per_thread < c->n ? lo + c->per_thread : c->n;
        c->partial[t] = sum_avx512(c->buf + lo, hi - lo);
    }
}

static void read_once(void *vctx, int iter)
{
    read_ctx *c = vctx;
    int threads = cf_threads_count();
    c->per_thread = (c->n + threads - 1) / threads;
    cf_parallel_for(threads, 1, read_range, c);
}

static double read_bandwidth(const float *buf, int64_t n)
{
    read_ctx c = {.buf = buf, .n = n};
    return (double)n * sizeof(float) / time_per_call(read_once, &c) / 1e9;
}

/* ---- matvec ------------------------------------------------------------------------------ */

typedef struct matvec_ctx {
    float *w_pool;      /* n_copies consecutive [N,K] matrices */
    int n_copies;       /* 1 = hot */
    const float *x;
    float *y;
    int64_t N, K;
    bool use_blas;
    cf_gemm_packed *packed; /* n_copies packs of the same matrices, or NULL */
} matvec_ctx;

static void matvec_once(void *vctx, int iter)
{
    matvec_ctx *c = vctx;
    const float *W = c->w_pool + (size_t)(iter % c->n_copies) * (size_t)(c->N * c->K);
    if (c->packed)
        cf_matvec_f32_packed(&c->packed[iter % c->n_copies], c->x, NULL, c->y);
    else if (c->use_blas)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)c->N, (blasint)c->K, 1.0f, W, (blasint)c->K, c->x, 1,
                    0.0f, c->y, 1);
    else
        cf_matvec_f32(W, c->x, NULL, c->y, c->N, c->K);
}

/* GB/s of weight traffic for one configuration. */
static double matvec_gbs(matvec_ctx *c, int threads, bool blas)
{
    c->use_blas = blas;
    cf_threads_set(threads);
    if (blas)
        openblas_set_num_threads(threads);
    double sec = time_per_call(matvec_once, c);
    openblas_set_num_threads(1);
    return (double)(c->N * c->K) * sizeof(float) / sec / 1e9;
}

static cf_gemm_packed *pack_copies(float *pool, int n, int64_t N, int64_t K)
{
    cf_gemm_packed *p = calloc((size_t)n, sizeof *p);
    cf_error err = {0};
    for (int i = 0; i < n; i++)
        if (cf_gemm_pack_b(&p[i], true, K, N, pool + (size_t)i * (size_t)(N * K), K, &err) != CF_OK) {
            fprintf(stderr, "bench_kernels: %s\n", err.message);
            exit(1);
        }
    return p;
}

static void free_packs(cf_gemm_packed *p, int n)
{
    for (int i = 0; i < n; i++)
        cf_gemm_packed_free(&p[i]);
    free(p);
}

static void bench_matvec(float *pool, int threads)
{
    static const int64_t shapes[][2] = {{768, 2304}, {768, 3072}, {3072, 768}, {768, 50257}}; /* K, N */
    float *x = alloc_random(4096, 7), *y = alloc_random(65536, 8);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t K = shapes[s][0], N = shapes[s][1];
        size_t per = (size_t)(N * K);
        int cold = (int)(COLD_BYTES / sizeof(float) / per);
        matvec_ctx c = {pool, cold < 1 ? 1 : cold, x, y, N, K, false, NULL};
        double own_cold = matvec_gbs(&c, threads, false);
        double blas_cold = matvec_gbs(&c, threads, true);
        c.packed = pack_copies(pool, c.n_copies, N, K);
        double packed_cold = matvec_gbs(&c, threads, false);
        free_packs(c.packed, c.n_copies);
        c.packed = NULL;
        c.n_copies = 1;
        double own_hot = matvec_gbs(&c, threads, false);
        double gflop_per_gb = 2.0 / sizeof(float); /* 2 flops per 4-byte weight */
        char shape[64];
        snprintf(shape, sizeof shape, "1x%ldx%ld", (long)K, (long)N);
        printf("| %-12s | %d | %8.1f | %8.1f | %8.1f | %8.1f | %8.1f | %8.1f |\n", shape, threads, own_cold,
               own_cold * gflop_per_gb, own_hot, packed_cold, blas_cold, blas_cold * gflop_per_gb);
    }
    free(x);
    free(y);
}

/* ---- GEMM ---------------------------------------------------------------------------------- */

typedef struct gemm_ctx {
    const float *A, *B;
    float *C;
    int64_t M, N, K;
    int mode; /* 0 = pool + BLAS blocks, 1 = pool + own kernel, 2 = plain OpenBLAS, 3 = pool + own prepacked */
    const cf_gemm_packed *packed;
} gemm_ctx;

/* C[M,N] = A[M,K] B[N,K]^T: activations times torch-layout weights, as a linear layer does. */
static void gemm_once(void *vctx, int iter)
{
    gemm_ctx *c = vctx;
    if (c->mode == 3)
        cf_gemm_f32_packed(false, c->M, 1.0f, c->A, c->K, c->packed, 0.0f, c->C, c->N);
    else if (c->mode == 2)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)c->M, (blasint)c->N, (blasint)c->K, 1.0f,
                    c->A, (blasint)c->K, c->B, (blasint)c->K, 0.0f, c->C, (blasint)c->N);
    else
        cf_gemm_f32(false, true, c->M, c->N, c->K, 1.0f, c->A, c->K, c->B, c->K, 0.0f, c->C, c->N);
}

static double gemm_gflops(gemm_ctx *c, int threads, int mode)
{
    c->mode = mode;
    cf_threads_set(threads);
    cf_gemm_force_impl(mode == 1 ? CF_GEMM_OWN : mode == 3 ? CF_GEMM_AUTO : CF_GEMM_BLAS);
    if (mode == 2)
        openblas_set_num_threads(threads);
    double sec = time_per_call(gemm_once, c);
    openblas_set_num_threads(1);
    cf_gemm_force_impl(CF_GEMM_AUTO);
    return 2.0 * (double)c->M * (double)c->N * (double)c->K / sec / 1e9;
}

static void bench_gemm(int threads)
{
    static const int64_t shapes[][3] = {{128, 768, 3072}, {128, 768, 768}, {512, 768, 2304}}; /* M, K, N */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *A = alloc_random((size_t)(M * K), 11), *B = alloc_random((size_t)(N * K), 12),
              *C = alloc_random((size_t)(M * N), 13);
        cf_gemm_packed *pk = pack_copies(B, 1, N, K);
        gemm_ctx c = {A, B, C, M, N, K, 0, pk};
        double pool_blas = gemm_gflops(&c, threads, 0);
        double pool_own = cf_gemm_own_available() ? gemm_gflops(&c, threads, 1) : 0.0;
        double pool_packed = pk->panels ? gemm_gflops(&c, threads, 3) : 0.0;
        double plain = gemm_gflops(&c, threads, 2);
        free_packs(pk, 1);
        char shape[64];
        snprintf(shape, sizeof shape, "%ldx%ldx%ld", (long)M, (long)K, (long)N);
        printf("| %-12s | %d | %9.1f | %9.1f | %9.1f | %9.1f |\n", shape, threads, pool_blas, pool_own, pool_packed,
               plain);
        free(A);
        free(B);
        free(C);
    }
}

/* ---- activations and softmax on a BERT FFN / attention-sized block --------------------------- */

typedef struct act_ctx {
    void (*fn)(float *, int64_t);
    float *x, *src;
    int64_t n;
} act_ctx;

static void act_once(void *vctx, int iter)
{
    act_ctx *c = vctx;
    memcpy(c->x, c->src, (size_t)c->n * sizeof(float)); /* keep inputs in range across repeats */
    c->fn(c->x, c->n);
}

static void softmax_128x128(float *x, int64_t n) { cf_softmax_rows(x, n / 128, 128); }

static void bench_activations(int threads)
{
    static const struct {
        const char *name;
        void (*fn)(float *, int64_t);
    } acts[] = {{"gelu_erf", cf_gelu_erf}, {"gelu_tanh", cf_gelu_tanh}, {"silu", cf_silu},
                {"softmax rows of 128", softmax_128x128}};
    int64_t n = 128 * 3072;
    float *src = alloc_random((size_t)n, 21), *x = alloc_random((size_t)n, 22);
    for (int64_t i = 0; i < n; i++)
        src[i] *= 50.0f; /* spread over [-5, 5] */
    cf_threads_set(threads);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++) {
        act_ctx c = {acts[a].fn, x, src, n};
        double t[2];
        for (int isa = 0; isa < 2; isa++) {
            cf_kernels_force_isa(isa ? cf_cpu_best_isa() : CF_ISA_PORTABLE);
            t[isa] = time_per_call(act_once, &c);
        }
        cf_kernels_force_isa(cf_cpu_best_isa());
        printf("| %-20s | %d | %8.3f | %8.3f |\n", acts[a].name, threads, t[0] * 1e3, t[1] * 1e3);
    }
    free(src);
    free(x);
}

/* ---- bf16 / int8 against f32, one thread, wall and CPU time -------------------------------- */

typedef struct lowp_ctx {
    const float *A;
    float *C;
    int64_t M;
    const cf_gemm_packed *f32;
    const cf_lowp_weights *w; /* NULL: the f32 packed path */
} lowp_ctx;

static void lowp_once(void *vctx, int iter)
{
    (void)iter;
    lowp_ctx *c = vctx;
    if (c->w)
        cf_lowp_linear(c->w, c->A, c->M, c->w->K, NULL, CF_ACT_NONE, c->C, c->w->N);
    else if (c->M == 1)
        cf_matvec_f32_packed(c->f32, c->A, NULL, c->C);
    else
        cf_gemm_f32_packed(false, c->M, 1.0f, c->A, c->f32->K, c->f32, 0.0f, c->C, c->f32->N);
}

/* GFLOP/s by wall time and by this thread's CPU time (what the kernel does when it has the core). */
static void lowp_rate(lowp_ctx *c, int64_t N, int64_t K, double out[2])
{
    double c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID), w0 = bench_now();
    double per_call = time_per_call(lowp_once, c);
    double calls = (bench_now() - w0) / per_call;
    double cpu_per_call = (bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0) / calls;
    double flops = 2.0 * (double)c->M * (double)N * (double)K;
    out[0] = flops / per_call / 1e9;
    out[1] = flops / cpu_per_call / 1e9;
}

static void bench_lowp(void)
{
    static const int64_t shapes[][3] = {{1, 768, 2304},   {1, 3072, 768},   {1, 768, 50257},  {128, 768, 3072},
                                        {128, 3072, 768}, {128, 768, 768},  {512, 768, 2304}};
    cf_threads_set(1);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *A = alloc_random((size_t)(M * K), 21), *B = alloc_random((size_t)(N * K), 22),
              *C = alloc_random((size_t)(M * N), 23);
        cf_gemm_packed *pk = pack_copies(B, 1, N, K);
        cf_lowp_weights w[2];
        cf_error err;
        if (cf_lowp_pack_f32(&w[0], CF_WTYPE_BF16, B, N, K, K, 1, &err) ||
            cf_lowp_pack_f32(&w[1], CF_WTYPE_INT8, B, N, K, K, 1, &err)) {
            fprintf(stderr, "bench_kernels: %s\n", err.message);
            exit(1);
        }
        double r[3][2];
        for (int t = 0; t < 3; t++) {
            lowp_ctx c = {A, C, M, pk, t ? &w[t - 1] : NULL};
            lowp_rate(&c, N, K, r[t]);
        }
        char shape[64];
        snprintf(shape, sizeof shape, "%ldx%ldx%ld", (long)M, (long)K, (long)N);
        /* matvec: weight bytes streamed per second (4, 2, 1 bytes a weight) by CPU time */
        if (M == 1)
            printf("| %-13s | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | GB/s %5.1f %5.1f %5.1f |\n", shape,
                   r[0][0], r[0][1], r[1][0], r[1][1], r[2][0], r[2][1], r[0][1] * 2, r[1][1], r[2][1] / 2);
        else
            printf("| %-13s | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | %7.1f | |\n", shape, r[0][0], r[0][1], r[1][0],
                   r[1][1], r[2][0], r[2][1]);
        cf_lowp_free(&w[0]);
        cf_lowp_free(&w[1]);
        free_packs(pk, 1);
        free(A), free(B), free(C);
    }
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            g_min_seconds = 0.1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--only read|matvec|gemm|lowp|act]\n", argv[0]);
            return 2;
        }
    }
#define SECTION(name) (!only || strcmp(only, name) == 0)
    int64_t pool_floats = (int64_t)(COLD_BYTES / sizeof(float)) + 4096 * 4096;
    float *pool = alloc_random((size_t)pool_floats, 1);
    printf("kernels: isa %s, OpenBLAS %s (core %s), gemm impl default: %s\n\n", cf_isa_name(cf_kernels_isa()),
           openblas_get_config(), openblas_get_corename(),
           cf_gemm_current_impl() == CF_GEMM_OWN ? "own" : "blas");

    if (SECTION("read")) {
    printf("| memory read (STREAM-style sum, %zu MB) | threads | GB/s |\n|---|---|---|\n", COLD_BYTES >> 20);
    for (int t = 1; t <= 2; t++) {
        cf_threads_set(t);
        printf("| read | %d | %.1f |\n", t, read_bandwidth(pool, (int64_t)(COLD_BYTES / sizeof(float))));
    }

    }
    if (SECTION("matvec")) {
    printf("\n| matvec 1xKxN | thr | own GB/s | own GFLOP/s | own hot GB/s | own packed GB/s | sgemv GB/s | sgemv GFLOP/s "
           "|\n|---|---|---|---|---|---|---|---|\n");
    for (int t = 1; t <= 2; t++)
        bench_matvec(pool, t);

    }
    if (SECTION("gemm")) {
    printf("\n| GEMM MxKxN (x W^T) | thr | pool+BLAS GFLOP/s | pool+own GFLOP/s | pool+own prepacked GFLOP/s | "
           "OpenBLAS threads GFLOP/s |\n|---|---|---|---|---|---|\n");
    for (int t = 1; t <= 2; t++)
        bench_gemm(t);
    }
    if (SECTION("lowp")) {
        printf("\n| 1 thread MxKxN | f32 GFLOP/s wall | f32 cpu | bf16 wall | bf16 cpu | int8 wall | int8 cpu | "
               "matvec weight GB/s by cpu (f32 bf16 int8) |\n|---|---|---|---|---|---|---|---|\n");
        bench_lowp();
    }
    if (SECTION("act")) {
        printf("\n| 128x3072 elements (copy + op) | thr | portable ms | %s ms |\n|---|---|---|---|\n",
               cf_isa_name(cf_cpu_best_isa()));
        for (int t = 1; t <= 2; t++)
            bench_activations(t);
    }
    free(pool);
    return 0;
}
