/* cf_attention_f32 against a naive double-precision attention: key masks, relative-position bias,
 * causal masks with offsets (prefill, decode, chunked), grouped- and multi-query heads, fused QKV
 * strides; 1 and 2 threads, both GEMM block implementations.
 * Tolerance per output row: max|v| * (4*delta + (n_kv+8)*u), where delta = (d+8)*u*max_j(scale*sum|q k| +
 * |mask| + |bias|) bounds the f32 error of any score and softmax turns a score error delta into a
 * relative probability error of about 2*delta. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_own.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kref.h"

typedef struct attn_case {
    int64_t n_q, n_kv;
    int n_heads, n_kv_heads, head_dim;
    bool key_mask, bias, causal;
    int64_t causal_offset;
    bool fused_qkv; /* q, k, v interleaved in one [n, 3*H*d] buffer (n_q == n_kv) */
} attn_case;

static void reference(const cf_attn_args *a, double *out, double *tol)
{
    int group = a->n_heads / a->n_kv_heads;
    double *s = malloc((size_t)(a->n_kv ? a->n_kv : 1) * sizeof(double));
    for (int h = 0; h < a->n_heads; h++) {
        int kvh = h / group;
        for (int64_t i = 0; i < a->n_q; i++) {
            const float *q = a->q + i * a->q_stride + h * a->head_dim;
            double mx = -INFINITY, worst = 0, vmax = 0;
            int64_t lim = a->causal ? i + a->causal_offset + 1 : a->n_kv;
            lim = lim < 0 ? 0 : lim > a->n_kv ? a->n_kv : lim;
            for (int64_t j = 0; j < lim; j++) {
                const float *k = a->k + j * a->k_stride + kvh * a->head_dim;
                double dot = 0, mag = 0;
                for (int c = 0; c < a->head_dim; c++)
                    dot += (double)q[c] * k[c], mag += fabs((double)q[c] * k[c]);
                double add = (a->key_mask ? a->key_mask[j] : 0) + (a->bias ? a->bias[(h * a->n_q + i) * a->n_kv + j] : 0);
                s[j] = a->scale * dot + add;
                mx = fmax(mx, s[j]);
                worst = fmax(worst, a->scale * mag + fabs(add));
            }
            double sum = 0;
            for (int64_t j = 0; j < lim; j++)
                sum += (s[j] = exp(s[j] - mx));
            for (int c = 0; c < a->head_dim; c++) {
                double o = 0;
                for (int64_t j = 0; j < lim; j++) {
                    double v = a->v[j * a->v_stride + kvh * a->head_dim + c];
                    o += s[j] / sum * v;
                    vmax = fmax(vmax, fabs(v));
                }
                out[i * a->n_heads * a->head_dim + h * a->head_dim + c] = o;
            }
            double delta = (a->head_dim + 8) * F32_U * worst;
            tol[i * a->n_heads + h] = vmax * (4 * delta + (double)(a->n_kv + 8) * F32_U) + 1e-30;
        }
    }
    free(s);
}

static void run_case(const attn_case *c, uint32_t seed)
{
    int64_t qw = (int64_t)c->n_heads * c->head_dim, kvw = (int64_t)c->n_kv_heads * c->head_dim;
    float *qkv = NULL, *q, *k, *v;
    cf_attn_args a = {.n_q = c->n_q, .n_kv = c->n_kv, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads,
                      .head_dim = c->head_dim, .scale = 1.0f / sqrtf((float)c->head_dim), .causal = c->causal,
                      .causal_offset = c->causal_offset};
    if (c->fused_qkv) {
        int64_t stride = qw + 2 * kvw;
        qkv = random_floats((size_t)(c->n_q * stride), seed, 2.0f);
        q = qkv, k = qkv + qw, v = qkv + qw + kvw;
        a.q_stride = a.k_stride = a.v_stride = stride;
    } else {
        a.q_stride = qw + 3, a.k_stride = kvw + 5, a.v_stride = kvw + 1; /* padded rows */
        q = random_floats((size_t)(c->n_q * a.q_stride), seed, 2.0f);
        k = random_floats((size_t)(c->n_kv * a.k_stride), seed + 1, 2.0f);
        v = random_floats((size_t)(c->n_kv * a.v_stride), seed + 2, 1.0f);
    }
    a.q = q, a.k = k, a.v = v;
    float *mask = NULL, *bias = NULL;
    if (c->key_mask) {
        mask = calloc((size_t)c->n_kv, sizeof(float));
        for (int64_t j = 0; j < c->n_kv; j++)
            mask[j] = j % 5 == 3 ? -1e9f : (j % 7 == 6 ? -3.4028235e38f : 0.0f); /* torch's finfo.min too */
        a.key_mask = mask;
    }
    if (c->bias) {
        bias = random_floats((size_t)(c->n_heads * c->n_q * c->n_kv), seed + 3, 3.0f);
        a.bias = bias;
    }
    double *ref = malloc((size_t)(c->n_q * qw) * sizeof(double));
    double *tol = malloc((size_t)(c->n_q * c->n_heads) * sizeof(double));
    reference(&a, ref, tol);
    a.out_stride = qw + 2;
    float *out = malloc((size_t)(c->n_q * a.out_stride) * sizeof(float));
    a.out = out;
    for (int t = 1; t <= 2; t++)
        for (int impl = CF_GEMM_BLAS; impl <= CF_GEMM_OWN; impl++) {
            if (impl == CF_GEMM_OWN && !cf_gemm_own_available())
                continue;
            cf_threads_set(t);
            cf_gemm_force_impl((cf_gemm_impl)impl);
            for (int64_t i = 0; i < c->n_q * a.out_stride; i++)
                out[i] = -777.0f;
            cf_attention_f32(&a);
            for (int64_t i = 0; i < c->n_q; i++) {
                for (int h = 0; h < c->n_heads; h++)
                    for (int d = 0; d < c->head_dim; d++) {
                        float got = out[i * a.out_stride + h * c->head_dim + d];
                        double want = ref[i * qw + h * c->head_dim + d], lim = tol[i * c->n_heads + h];
                        if (!(fabs(got - want) <= lim))
                            cr_assert_fail("n_q=%ld n_kv=%ld H=%d KVH=%d d=%d causal=%d+%ld mask=%d bias=%d threads=%d "
                                           "impl=%d: out[q=%ld,h=%d,%d]=%.9g want %.9g (err %.3g > %.3g)",
                                           (long)c->n_q, (long)c->n_kv, c->n_heads, c->n_kv_heads, c->head_dim,
                                           c->causal, (long)c->causal_offset, c->key_mask, c->bias, t, impl, (long)i,
                                           h, d, got, want, fabs(got - want), lim);
                    }
                cr_assert_eq(out[i * a.out_stride + qw], -777.0f, "wrote into the output row padding");
            }
        }
    cf_gemm_force_impl(CF_GEMM_AUTO);
    if (qkv)
        free(qkv);
    else
        free(q), free(k), free(v);
    free(mask), free(bias), free(ref), free(tol), free(out);
}

static void run_cases(const attn_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], (uint32_t)(i * 10 + 1));
}

Test(attention, full_attention_with_masks_and_bias)
{
    static const attn_case cases[] = {
        {.n_q = 1, .n_kv = 1, .n_heads = 1, .n_kv_heads = 1, .head_dim = 1},
        {.n_q = 37, .n_kv = 37, .n_heads = 4, .n_kv_heads = 4, .head_dim = 16},
        {.n_q = 7, .n_kv = 50, .n_heads = 3, .n_kv_heads = 3, .head_dim = 64, .key_mask = true},
        {.n_q = 33, .n_kv = 20, .n_heads = 2, .n_kv_heads = 2, .head_dim = 8, .bias = true, .key_mask = true},
        {.n_q = 40, .n_kv = 40, .n_heads = 12, .n_kv_heads = 12, .head_dim = 64, .fused_qkv = true},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

Test(attention, causal_prefill_decode_and_chunks)
{
    static const attn_case cases[] = {
        {.n_q = 70, .n_kv = 70, .n_heads = 2, .n_kv_heads = 2, .head_dim = 32, .causal = true}, /* 3 query blocks */
        {.n_q = 1, .n_kv = 50, .n_heads = 4, .n_kv_heads = 4, .head_dim = 64, .causal = true, .causal_offset = 49},
        {.n_q = 5, .n_kv = 12, .n_heads = 2, .n_kv_heads = 2, .head_dim = 16, .causal = true, .causal_offset = 7,
         .key_mask = true},
        {.n_q = 65, .n_kv = 65, .n_heads = 3, .n_kv_heads = 3, .head_dim = 7, .causal = true, .bias = true,
         .fused_qkv = true},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

Test(attention, grouped_and_multi_query_heads)
{
    static const attn_case cases[] = {
        {.n_q = 33, .n_kv = 40, .n_heads = 8, .n_kv_heads = 2, .head_dim = 64, .causal = true, .causal_offset = 7,
         .key_mask = true},
        {.n_q = 1, .n_kv = 9, .n_heads = 6, .n_kv_heads = 1, .head_dim = 32, .causal = true, .causal_offset = 8},
        {.n_q = 17, .n_kv = 17, .n_heads = 4, .n_kv_heads = 2, .head_dim = 16, .fused_qkv = true, .bias = true},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

Test(attention, query_that_sees_no_key_gets_zeros)
{
    /* causal_offset -1: query 0 sees nothing (a fully padded prefix); later queries see j < i. */
    attn_case c = {.n_q = 3, .n_kv = 3, .n_heads = 1, .n_kv_heads = 1, .head_dim = 4, .causal = true,
                   .causal_offset = -1};
    float q[12], k[12], v[12], out[12];
    fill_random(q, 12, 5, 1.0f), fill_random(k, 12, 6, 1.0f), fill_random(v, 12, 7, 1.0f);
    cf_attn_args a = {.n_q = c.n_q, .n_kv = c.n_kv, .n_heads = 1, .n_kv_heads = 1, .head_dim = 4, .q = q,
                      .q_stride = 4, .k = k, .k_stride = 4, .v = v, .v_stride = 4, .out = out, .out_stride = 4,
                      .scale = 0.5f, .causal = true, .causal_offset = -1};
    cf_attention_f32(&a);
    for (int d = 0; d < 4; d++) {
        cr_assert_eq(out[d], 0.0f);
        cr_assert_float_eq(out[4 + d], v[d], 1e-6); /* query 1 sees only key 0 */
    }
}

/* Sequences longer than one key block (128): the online softmax carries max and sum across blocks. */
Test(attention, long_sequences_span_several_key_blocks)
{
    static const attn_case cases[] = {
        {.n_q = 40, .n_kv = 300, .n_heads = 2, .n_kv_heads = 2, .head_dim = 32, .key_mask = true, .bias = true},
        {.n_q = 1, .n_kv = 1000, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64, .causal = true, .causal_offset = 999},
        {.n_q = 260, .n_kv = 260, .n_heads = 2, .n_kv_heads = 2, .head_dim = 16, .causal = true, .fused_qkv = true},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

/* A whole key block masked with -inf before any visible key: the first block contributes nothing
 * and the output is the softmax over the later keys only. */
Test(attention, fully_masked_first_key_block)
{
    enum { NKV = 200, D = 8, FIRST = 150 };
    float q[D], k[NKV * D], v[NKV * D], mask[NKV], out[D];
    fill_random(q, D, 1, 1.0f), fill_random(k, NKV * D, 2, 1.0f), fill_random(v, NKV * D, 3, 1.0f);
    for (int j = 0; j < NKV; j++)
        mask[j] = j < FIRST ? -INFINITY : 0.0f;
    cf_attn_args a = {.n_q = 1, .n_kv = NKV, .n_heads = 1, .n_kv_heads = 1, .head_dim = D, .q = q, .q_stride = D,
                      .k = k, .k_stride = D, .v = v, .v_stride = D, .out = out, .out_stride = D, .scale = 0.3f,
                      .key_mask = mask};
    cf_attention_f32(&a);
    double s[NKV], mx = -INFINITY, sum = 0;
    for (int j = FIRST; j < NKV; j++) {
        s[j] = 0;
        for (int c = 0; c < D; c++)
            s[j] += 0.3 * q[c] * k[j * D + c];
        mx = fmax(mx, s[j]);
    }
    for (int j = FIRST; j < NKV; j++)
        sum += (s[j] = exp(s[j] - mx));
    for (int c = 0; c < D; c++) {
        double want = 0;
        for (int j = FIRST; j < NKV; j++)
            want += s[j] / sum * v[j * D + c];
        cr_assert(fabs(out[c] - want) < 1e-5, "out[%d] = %.7g, want %.7g (tolerance 1e-5: 50 keys, |v| < 1)", c,
                  out[c], want);
    }
}
