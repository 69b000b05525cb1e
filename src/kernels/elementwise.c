/* Element-wise activations and arithmetic, in place, split across the pool in large chunks. */
#include <math.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kernels/vmath.h"

#define ELEM_GRAIN (16 * 1024)

typedef void (*unary_fn)(float *x, int64_t n);

typedef struct unary_task {
    unary_fn fn;
    float *x;
} unary_task;

static void unary_range(void *ctx, int64_t i0, int64_t i1)
{
    const unary_task *t = ctx;
    t->fn(t->x + i0, i1 - i0);
}

static void run_unary(unary_fn fn, float *x, int64_t n)
{
    unary_task t = {fn, x};
    cf_parallel_for(n, ELEM_GRAIN, unary_range, &t);
}

static void gelu_erf_span(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

/* gelu_new: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as x / (1 + exp(-2u))
 * (the same function) so negative x loses nothing to cancellation. */
static void gelu_tanh_span(float *x, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = v / (1.0f + expf(-2.0f * c * (v + 0.044715f * v * v * v)));
    }
}

static void silu_span(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + expf(-x[i]));
}

static void relu_span(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void tanh_span(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = tanhf(x[i]);
}

static bool use_avx512(void) { return cf_kernels_isa() == CF_ISA_AVX512; }

void cf_gelu_erf(float *x, int64_t n) { run_unary(use_avx512() ? cf_gelu_erf_avx512 : gelu_erf_span, x, n); }
void cf_gelu_tanh(float *x, int64_t n) { run_unary(use_avx512() ? cf_gelu_tanh_avx512 : gelu_tanh_span, x, n); }
void cf_silu(float *x, int64_t n) { run_unary(use_avx512() ? cf_silu_avx512 : silu_span, x, n); }
void cf_relu(float *x, int64_t n) { run_unary(relu_span, x, n); }
void cf_tanh_inplace(float *x, int64_t n) { run_unary(use_avx512() ? cf_tanh_avx512 : tanh_span, x, n); }

/* Memory-bound, cheap ops: a single pass on the calling thread is as fast as the pool. */
void cf_add_row_bias(float *y, const float *b, int64_t rows, int64_t n)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = y + r * n;
        for (int64_t i = 0; i < n; i++)
            row[i] += b[i];
    }
}

void cf_add(float *y, const float *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a[i];
}

void cf_mul(float *y, const float *a, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] *= a[i];
}

void cf_scale(float *y, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] *= s;
}

void cf_embedding_gather(const float *table, int64_t dim, const int64_t *ids, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * dim, table + ids[i] * dim, (size_t)dim * sizeof(float));
}
