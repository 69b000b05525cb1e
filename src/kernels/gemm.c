/* C = alpha op(A) op(B) + beta C on the library pool. The output is cut into column blocks
 * (or row blocks when N is narrow), and each block is one single-threaded GEMM call, so there
 * is exactly one set of threads no matter which GEMM does the block. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kernels/dispatch.h"
#include "kernels/gemm_own.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"

#define GEMM_PARALLEL_MIN_FLOPS (1 << 18) /* below this one thread is faster than waking the pool */
#define GEMM_COL_ALIGN 64                 /* column blocks stay a multiple of the widest B panel */
#define GEMM_ROW_ALIGN 16

static atomic_int g_gemm_impl = CF_GEMM_AUTO;

static void blas_set_one_thread(void) { openblas_set_num_threads(1); }

void cf_blas_single_threaded(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, blas_set_one_thread);
}

void cf_gemm_force_impl(cf_gemm_impl impl) { atomic_store(&g_gemm_impl, (int)impl); }

cf_gemm_impl cf_gemm_forced_impl(void) { return (cf_gemm_impl)atomic_load(&g_gemm_impl); }

cf_gemm_impl cf_gemm_current_impl(void)
{
    int impl = atomic_load(&g_gemm_impl);
    if (impl != CF_GEMM_AUTO)
        return (cf_gemm_impl)impl;
    /* Measured on Zen 4 (bench_kernels): OpenBLAS's Cooperlake kernel is 0-10% ahead of the own
     * kernel while the own one repacks weights per call, so BLAS does the blocks by default. */
    return CF_GEMM_BLAS;
}

typedef struct gemm_task {
    bool trans_a, trans_b, split_cols;
    int64_t M, N, K, lda, ldb, ldc, align;
    float alpha, beta;
    const float *A, *B;
    float *C;
    cf_gemm_impl impl;
} gemm_task;

static void gemm_block(const gemm_task *t, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const float *A = t->trans_a ? t->A + m0 : t->A + m0 * t->lda;
    const float *B = t->trans_b ? t->B + n0 * t->ldb : t->B + n0;
    float *C = t->C + m0 * t->ldc + n0;
    if (t->impl == CF_GEMM_OWN) {
        cf_gemm_own_f32(t->trans_a, t->trans_b, m1 - m0, n1 - n0, t->K, t->alpha, A, t->lda, B, t->ldb, t->beta, C,
                        t->ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, t->trans_a ? CblasTrans : CblasNoTrans, t->trans_b ? CblasTrans : CblasNoTrans,
                (blasint)(m1 - m0), (blasint)(n1 - n0), (blasint)t->K, t->alpha, A, (blasint)t->lda, B,
                (blasint)t->ldb, t->beta, C, (blasint)t->ldc);
}

/* Range [begin, end) is in units of `align` rows or columns. */
static void gemm_range(void *ctx, int64_t begin, int64_t end)
{
    const gemm_task *t = ctx;
    int64_t total = t->split_cols ? t->N : t->M;
    int64_t lo = begin * t->align, hi = end * t->align < total ? end * t->align : total;
    if (t->split_cols)
        gemm_block(t, 0, t->M, lo, hi);
    else
        gemm_block(t, lo, hi, 0, t->N);
}

static void scale_c(float *C, int64_t M, int64_t N, int64_t ldc, float beta)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

void cf_gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    cf_blas_single_threaded();
    if (K <= 0 || alpha == 0.0f) {
        scale_c(C, M, N, ldc, beta);
        return;
    }
    gemm_task t = {.trans_a = trans_a, .trans_b = trans_b, .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb,
                   .ldc = ldc, .alpha = alpha, .beta = beta, .A = A, .B = B, .C = C,
                   .impl = cf_gemm_current_impl()};
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int threads = cf_threads_count(); /* also starts the pool, which pins BLAS to one thread */
    if (flops < GEMM_PARALLEL_MIN_FLOPS)
        threads = 1;
    /* Columns split the weights (usually B) so each thread packs only its own share of them. */
    t.split_cols = N >= (int64_t)threads * GEMM_COL_ALIGN || N >= M;
    t.align = t.split_cols ? GEMM_COL_ALIGN : GEMM_ROW_ALIGN;
    int64_t units = ((t.split_cols ? N : M) + t.align - 1) / t.align;
    if (threads == 1 || units == 1) {
        gemm_range(&t, 0, units);
        return;
    }
    cf_parallel_for(units, 1, gemm_range, &t);
}
