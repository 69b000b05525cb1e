/* GEMM and matvec with op(B) packed once into micro-kernel panels (cf_gemm_pack_b). Work is split
 * across the pool by whole panels. Without the packed kernel (no AVX-512, or BLAS forced) the calls
 * run on the source B, so a pack is always safe to use. */
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/gemm_own.h"
#include "kernels/kernels.h"
#include "core/pages.h"
#include "core/threadpool.h"

#define PACKED_PARALLEL_MIN_FLOPS (1 << 18)

static int64_t n_panels(int64_t N) { return (N + CF_GEMM_PANEL - 1) / CF_GEMM_PANEL; }

static bool packed_kernel_usable(const cf_gemm_packed *p)
{
    int forced = cf_gemm_forced_impl();
    return p->panels && cf_kernels_isa() == CF_ISA_AVX512 && forced != CF_GEMM_BLAS;
}

cf_status cf_gemm_pack_b(cf_gemm_packed *p, bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                         cf_error *err)
{
    *p = (cf_gemm_packed){.K = K, .N = N, .b = B, .trans_b = trans_b, .ldb = ldb};
    if (K <= 0 || N <= 0 || cf_cpu_best_isa() != CF_ISA_AVX512)
        return CF_OK;
    size_t bytes = (size_t)n_panels(N) * CF_GEMM_PANEL * (size_t)K * sizeof(float);
    p->panels = cf_alloc_large(bytes);
    if (!p->panels)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate %zu MB for packed GEMM weights [%lld x %lld]", bytes >> 20,
                       (long long)K, (long long)N);
    cf_gemm_pack_panels_avx512(trans_b, K, N, B, ldb, p->panels);
    return CF_OK;
}

void cf_gemm_packed_free(cf_gemm_packed *p)
{
    if (!p)
        return;
    free(p->panels);
    memset(p, 0, sizeof *p);
}

typedef struct packed_task {
    const cf_gemm_packed *B;
    bool trans_a;
    int64_t M, lda, ldc;
    float alpha, beta;
    const float *A, *x, *bias;
    cf_act act;
    float *C;
} packed_task;

/* C[:, j0:j1] = act(C + bias[j0:j1]): the epilogue as passes, where no kernel fused it. */
static void finish_columns(float *C, int64_t ldc, int64_t M, int64_t j0, int64_t j1, const float *bias, cf_act act)
{
    for (int64_t i = 0; i < M; i++) {
        float *row = C + i * ldc + j0;
        if (bias)
            cf_add(row, bias + j0, j1 - j0);
        if (act != CF_ACT_NONE)
            cf_act_span(act, row, j1 - j0);
    }
}

static void source_gemm_cols(const packed_task *t, int64_t j0, int64_t j1)
{
    const cf_gemm_packed *B = t->B;
    const float *b = B->trans_b ? B->b + j0 * B->ldb : B->b + j0;
    cf_gemm_own_f32(t->trans_a, B->trans_b, t->M, j1 - j0, B->K, t->alpha, t->A, t->lda, b, B->ldb, t->beta,
                    t->C + j0, t->ldc);
    finish_columns(t->C, t->ldc, t->M, j0, j1, t->bias, t->act);
}

static void packed_gemm_range(void *ctx, int64_t p0, int64_t p1)
{
    const packed_task *t = ctx;
    int64_t j0 = p0 * CF_GEMM_PANEL, j1 = p1 * CF_GEMM_PANEL < t->B->N ? p1 * CF_GEMM_PANEL : t->B->N;
    if (!cf_gemm_packed_avx512(t->trans_a, t->M, j0, j1, t->B->K, t->alpha, t->A, t->lda, t->B->panels, t->beta,
                               t->C, t->ldc, t->bias, t->act))
        source_gemm_cols(t, j0, j1); /* no scratch for the A block: the source path needs none */
}

static void gemm_packed(bool trans_a, int64_t M, float alpha, const float *A, int64_t lda, const cf_gemm_packed *B,
                        float beta, float *C, int64_t ldc, const float *bias, cf_act act)
{
    if (M <= 0)
        return;
    if (!packed_kernel_usable(B)) {
        cf_gemm_f32(trans_a, B->trans_b, M, B->N, B->K, alpha, A, lda, B->b, B->ldb, beta, C, ldc);
        finish_columns(C, ldc, M, 0, B->N, bias, act);
        return;
    }
    packed_task t = {.B = B, .trans_a = trans_a, .M = M, .lda = lda, .ldc = ldc, .alpha = alpha, .beta = beta,
                     .A = A, .C = C, .bias = bias, .act = act};
    double flops = 2.0 * (double)M * (double)B->N * (double)B->K;
    int64_t panels = n_panels(B->N);
    cf_parallel_for(panels, flops < PACKED_PARALLEL_MIN_FLOPS ? panels : 1, packed_gemm_range, &t);
}

void cf_gemm_f32_packed(bool trans_a, int64_t M, float alpha, const float *A, int64_t lda, const cf_gemm_packed *B,
                        float beta, float *C, int64_t ldc)
{
    gemm_packed(trans_a, M, alpha, A, lda, B, beta, C, ldc, NULL, CF_ACT_NONE);
}

void cf_gemm_f32_packed_bias_act(int64_t M, const float *A, int64_t lda, const cf_gemm_packed *B, const float *bias,
                                 cf_act act, float *C, int64_t ldc)
{
    gemm_packed(false, M, 1.0f, A, lda, B, 0.0f, C, ldc, bias, act);
}

static void packed_matvec_range(void *ctx, int64_t p0, int64_t p1)
{
    const packed_task *t = ctx;
    int64_t j0 = p0 * CF_GEMM_PANEL, j1 = p1 * CF_GEMM_PANEL < t->B->N ? p1 * CF_GEMM_PANEL : t->B->N;
    cf_matvec_packed_avx512(t->B->panels, t->x, t->bias, t->C, t->B->K, j0, j1);
}

void cf_matvec_f32_packed(const cf_gemm_packed *B, const float *x, const float *bias, float *y)
{
    if (!packed_kernel_usable(B)) {
        if (B->trans_b && B->ldb == B->K) {
            cf_matvec_f32(B->b, x, bias, y, B->N, B->K);
            return;
        }
        cf_gemm_f32(false, B->trans_b, 1, B->N, B->K, 1.0f, x, B->K, B->b, B->ldb, 0.0f, y, B->N);
        if (bias)
            cf_add(y, bias, B->N);
        return;
    }
    packed_task t = {.B = B, .x = x, .bias = bias, .C = y};
    int64_t panels = n_panels(B->N), grain = 64 * 1024 / (B->K * CF_GEMM_PANEL) + 1;
    cf_parallel_for(panels, grain, packed_matvec_range, &t);
}
