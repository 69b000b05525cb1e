/* y = W x (+ bias): the M=1 decode path. Memory bound, so rows are split across the pool and each
 * thread streams its slice of W once through the widest dot-product kernel the CPU has. */
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"

/* Below this many weights a matvec is not worth waking the pool for. */
#define MATVEC_PARALLEL_MIN (64 * 1024)

void cf_matvec_rows_portable(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                             int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *w = W + r * K;
        float acc[8] = {0};
        int64_t k = 0;
        for (; k + 8 <= K; k += 8)
            for (int j = 0; j < 8; j++)
                acc[j] += w[k + j] * x[k + j];
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; k < K; k++)
            s += w[k] * x[k];
        y[r] = bias ? s + bias[r] : s;
    }
}

static cf_matvec_rows_fn matvec_rows_impl(void)
{
    switch (cf_kernels_isa()) {
    case CF_ISA_AVX512:
        return cf_matvec_rows_avx512;
    case CF_ISA_AVX2:
        return cf_matvec_rows_avx2;
    default:
        return cf_matvec_rows_portable;
    }
}

typedef struct matvec_task {
    cf_matvec_rows_fn rows;
    const float *W, *x, *bias;
    float *y;
    int64_t K;
} matvec_task;

static void matvec_range(void *ctx, int64_t r0, int64_t r1)
{
    const matvec_task *t = ctx;
    t->rows(t->W, t->x, t->bias, t->y, t->K, r0, r1);
}

void cf_matvec_f32(const float *W, const float *x, const float *bias, float *y, int64_t N, int64_t K)
{
    if (N <= 0)
        return;
    matvec_task t = {matvec_rows_impl(), W, x, bias, y, K};
    int64_t grain = K > 0 ? MATVEC_PARALLEL_MIN / K : N;
    cf_parallel_for(N, grain < 16 ? 16 : grain, matvec_range, &t);
}
