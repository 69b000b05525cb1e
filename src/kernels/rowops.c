/* Row-wise ops over [rows, n]: softmax, layer norm, RMS norm. Rows are split across the pool. */
#include <math.h>

#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kernels/vmath.h"

#define ROWS_PARALLEL_MIN_ELEMS (32 * 1024)

static int64_t row_grain(int64_t n)
{
    int64_t g = n > 0 ? ROWS_PARALLEL_MIN_ELEMS / n : 1;
    return g < 1 ? 1 : g;
}

/* Sixteen running partial sums, as a vector unit keeps them: error grows with n/16, not n. */
#define LANES 16

static float lane_total(const float acc[LANES])
{
    float s = 0.0f;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

static float sum_of(const float *x, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += x[i + j];
    for (; i < n; i++)
        acc[i % LANES] += x[i];
    return lane_total(acc);
}

/* sum((x - c)^2) */
static float sum_sq_dev(const float *x, int64_t n, float c)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - c;
            acc[j] += d * d;
        }
    for (; i < n; i++) {
        float d = x[i] - c;
        acc[i % LANES] += d * d;
    }
    return lane_total(acc);
}

/* Numerically stable: exp(x - max) so the largest term is exactly 1. */
static void softmax_row(float *x, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    float sum = cf_exp_shift_sum(x, n, mx);
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

typedef struct rows_task {
    const float *x, *gamma, *beta;
    float *y;
    float *sum; /* residual stream (fused add + norm) */
    int64_t n;
    float eps;
} rows_task;

static void softmax_range(void *ctx, int64_t r0, int64_t r1)
{
    const rows_task *t = ctx;
    for (int64_t r = r0; r < r1; r++)
        softmax_row(t->y + r * t->n, t->n);
}

void cf_softmax_rows(float *x, int64_t rows, int64_t n)
{
    rows_task t = {.y = x, .n = n};
    cf_parallel_for(rows, row_grain(n), softmax_range, &t);
}

/* Two passes in float like torch: mean, then the biased variance around it; eps inside the sqrt. */
static void layer_norm_row(const float *x, const float *gamma, const float *beta, float *y, int64_t n, float eps)
{
    float mean = sum_of(x, n) / (float)n;
    float sq = sum_sq_dev(x, n, mean);
    float rstd = 1.0f / sqrtf(sq / (float)n + eps);
    for (int64_t i = 0; i < n; i++) {
        float v = (x[i] - mean) * rstd;
        if (gamma)
            v *= gamma[i];
        if (beta)
            v += beta[i];
        y[i] = v;
    }
}

static void layer_norm_range(void *ctx, int64_t r0, int64_t r1)
{
    const rows_task *t = ctx;
    for (int64_t r = r0; r < r1; r++)
        layer_norm_row(t->x + r * t->n, t->gamma, t->beta, t->y + r * t->n, t->n, t->eps);
}

void cf_layer_norm(const float *x, const float *gamma, const float *beta, float *y, int64_t rows, int64_t n,
                   float eps)
{
    if (n <= 0)
        return;
    rows_task t = {.x = x, .gamma = gamma, .beta = beta, .y = y, .n = n, .eps = eps};
    cf_parallel_for(rows, row_grain(n), layer_norm_range, &t);
}

/* sum += add, then y = layer_norm(sum), row by row while the row is in L1. */
static void residual_layer_norm_range(void *ctx, int64_t r0, int64_t r1)
{
    const rows_task *t = ctx;
    for (int64_t r = r0; r < r1; r++) {
        float *s = t->sum + r * t->n;
        const float *a = t->x + r * t->n;
        for (int64_t i = 0; i < t->n; i++)
            s[i] += a[i];
        layer_norm_row(s, t->gamma, t->beta, t->y + r * t->n, t->n, t->eps);
    }
}

void cf_residual_layer_norm(float *sum, const float *add, const float *gamma, const float *beta, float *y,
                            int64_t rows, int64_t n, float eps)
{
    if (n <= 0)
        return;
    rows_task t = {.x = add, .gamma = gamma, .beta = beta, .y = y, .sum = sum, .n = n, .eps = eps};
    cf_parallel_for(rows, row_grain(n), residual_layer_norm_range, &t);
}

/* HF Llama: x * rsqrt(mean(x^2) + eps) * gamma, all in f32. */
static void rms_norm_row(const float *x, const float *gamma, float *y, int64_t n, float eps)
{
    float sq = sum_sq_dev(x, n, 0.0f);
    float rstd = 1.0f / sqrtf(sq / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = gamma ? gamma[i] * (x[i] * rstd) : x[i] * rstd;
}

static void rms_norm_range(void *ctx, int64_t r0, int64_t r1)
{
    const rows_task *t = ctx;
    for (int64_t r = r0; r < r1; r++)
        rms_norm_row(t->x + r * t->n, t->gamma, t->y + r * t->n, t->n, t->eps);
}

void cf_rms_norm(const float *x, const float *gamma, float *y, int64_t rows, int64_t n, float eps)
{
    if (n <= 0)
        return;
    rows_task t = {.x = x, .gamma = gamma, .y = y, .n = n, .eps = eps};
    cf_parallel_for(rows, row_grain(n), rms_norm_range, &t);
}
