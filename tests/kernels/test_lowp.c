/* bf16 and int8 linear kernels (cf_lowp_*) on every ISA path, 1 and 2 threads, ragged shapes.
 * Two references, both in double:
 *  - the quantized model itself (bf16-rounded a and w; or the int8 codes with their scales and
 *    zero points): the kernels must match it to f32 summation error, K*u*sum|a w| (bf16) or
 *    4u|result| for the exact int32 sums of int8 (one f32 rounding of the sum, two of the scales);
 *  - the f32 product: the error the quantization itself allows: bf16 (2u + u^2) sum|a w| with u = 2^-8;
 *    int8 sum(|a| sw/2 + |w| sa/2 + sa sw/4) for the row scale sa and channel scale sw. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_lowp.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kref.h"

typedef struct shape {
    int64_t M, N, K;
} shape;

static const shape SHAPES[] = {{1, 1, 1},  {1, 48, 64},  {1, 100, 130}, {3, 47, 5},     {8, 49, 3},
                               {9, 96, 33}, {17, 50, 771}, {64, 145, 257}, {130, 97, 64}};

typedef struct problem {
    shape s;
    int64_t lda, ldc;
    float *A, *W, *bias;
} problem;

static problem make_problem(shape s, uint32_t seed)
{
    problem p = {.s = s, .lda = s.K + 3, .ldc = s.N + 2};
    p.A = random_floats((size_t)(s.M * p.lda), seed, 2.0f);
    p.W = random_floats((size_t)(s.N * s.K), seed + 1, 0.5f);
    p.bias = random_floats((size_t)s.N, seed + 2, 1.0f);
    for (int64_t i = 0; i < s.M; i++) /* skewed rows, like post-GELU activations, exercise the zero point */
        if (i % 3 == 1)
            for (int64_t k = 0; k < s.K; k++)
                p.A[i * p.lda + k] = fabsf(p.A[i * p.lda + k]) - 0.1f;
    return p;
}

static void free_problem(problem *p)
{
    free(p->A);
    free(p->W);
    free(p->bias);
}

static double bf16_round(float x) { return cf_bf16_to_f32(cf_f32_to_bf16(x)); }

/* The int8 codes the kernels must use for row i of A. */
static void quantize_row(const float *a, int64_t K, int32_t *q, float *scale, int32_t *zero)
{
    float lo = 0, hi = 0;
    for (int64_t k = 0; k < K; k++)
        lo = fminf(lo, a[k]), hi = fmaxf(hi, a[k]);
    cf_lowp_row_params(lo, hi, scale, zero);
    for (int64_t k = 0; k < K; k++) {
        float v = rintf(a[k] * (1.0f / *scale)) + (float)*zero;
        q[k] = (int32_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

/* Check C against both references for every element. */
static void check(const problem *p, cf_wtype type, const cf_lowp_weights *w, const float *C, const char *what)
{
    int64_t M = p->s.M, N = p->s.N, K = p->s.K;
    int32_t *q = malloc(sizeof(int32_t) * (size_t)K);
    for (int64_t i = 0; i < M; i++) {
        const float *a = p->A + i * p->lda;
        float sa = 1;
        int32_t za = 0;
        if (type == CF_WTYPE_INT8)
            quantize_row(a, K, q, &sa, &za);
        for (int64_t j = 0; j < N; j++) {
            const float *wr = p->W + j * K;
            double exact = 0, model = 0, abs_model = 0, abs_exact = 0, quant_bound = 0;
            for (int64_t k = 0; k < K; k++) {
                exact += (double)a[k] * wr[k];
                abs_exact += fabs((double)a[k] * wr[k]);
                if (type == CF_WTYPE_BF16) {
                    double t = bf16_round(a[k]) * bf16_round(wr[k]);
                    model += t;
                    abs_model += fabs(t);
                } else {
                    double qw = rint((double)wr[k] / w->scale[j]);
                    model += (double)(q[k] - za) * qw;
                    /* |a - a~| <= sa/2, |w - w~| <= sw/2 (plus f32 rounding of w/scale) */
                    quant_bound += fabs(a[k]) * 0.5 * w->scale[j] * 1.001 + fabs(wr[k]) * 0.5 * sa * 1.001 +
                                   0.25 * sa * w->scale[j];
                }
            }
            double tol_model;
            if (type == CF_WTYPE_INT8) {
                model *= (double)sa * w->scale[j];
                tol_model = 4 * F32_U * fabs(model) + 1e-6 * (fabs(model) > 0); /* f32 rounding of the result */
                tol_model += 2 * F32_U * fabs(p->bias[j]);
            } else {
                tol_model = dot_tolerance(K, abs_model) + 2 * F32_U * fabs(p->bias[j]);
                /* bf16 (8 significant bits): each factor within u = 2^-8 relative */
                quant_bound = (2.0 / 256 + 1.0 / (256.0 * 256)) * abs_exact;
            }
            model += p->bias[j];
            exact += p->bias[j];
            double got = C[i * p->ldc + j];
            if (fabs(got - model) > tol_model || fabs(got - exact) > quant_bound + tol_model + dot_tolerance(K, abs_exact))
                cr_assert_fail("%s %s M=%lld N=%lld K=%lld C[%lld,%lld]=%.9g, quantized model %.9g (tol %.3g), "
                               "f32 %.9g (bound %.3g)",
                               what, cf_wtype_name(type), (long long)M, (long long)N, (long long)K, (long long)i,
                               (long long)j, got, model, tol_model, exact, quant_bound);
        }
    }
    free(q);
}

static void run_all(cf_wtype type)
{
    cf_isa isas[3];
    int n_isa = supported_isas(isas);
    for (size_t c = 0; c < sizeof SHAPES / sizeof SHAPES[0]; c++) {
        problem p = make_problem(SHAPES[c], 100 + (uint32_t)c);
        cf_lowp_weights w;
        cf_error err;
        cr_assert_eq(cf_lowp_pack_f32(&w, type, p.W, p.s.N, p.s.K, p.s.K, 1, &err), CF_OK, "%s", err.message);
        float *C = malloc(sizeof(float) * (size_t)(p.s.M * p.ldc));
        for (int t = 1; t <= 2; t++) {
            cf_threads_set(t);
            for (int i = 0; i < n_isa; i++) {
                cf_kernels_force_isa(isas[i]);
                for (int64_t x = 0; x < p.s.M * p.ldc; x++)
                    C[x] = NAN; /* the stride gaps must stay untouched, the rest written */
                cf_lowp_linear(&w, p.A, p.s.M, p.lda, p.bias, CF_ACT_NONE, C, p.ldc);
                char what[64];
                snprintf(what, sizeof what, "%s %d thr", cf_isa_name(isas[i]), t);
                check(&p, type, &w, C, what);
                for (int64_t r = 0; r < p.s.M; r++)
                    for (int64_t x = p.s.N; x < p.ldc; x++)
                        cr_assert(isnan(C[r * p.ldc + x]), "%s wrote past N in row %lld", what, (long long)r);
            }
        }
        cf_kernels_force_isa(cf_cpu_best_isa());
        cf_threads_set(0);
        free(C);
        cf_lowp_free(&w);
        free_problem(&p);
    }
}

Test(lowp, bf16_every_isa_matches_references) { run_all(CF_WTYPE_BF16); }
Test(lowp, int8_every_isa_matches_references) { run_all(CF_WTYPE_INT8); }

/* A fused activation equals the activation applied to the unfused output (same ISA, same values). */
Test(lowp, fused_activation_equals_separate_pass)
{
    problem p = make_problem((shape){19, 100, 70}, 7);
    cf_isa isas[3];
    int n_isa = supported_isas(isas);
    const cf_act acts[] = {CF_ACT_GELU_ERF, CF_ACT_GELU_TANH, CF_ACT_RELU, CF_ACT_SILU};
    for (int ty = 0; ty < 2; ty++) {
        cf_lowp_weights w;
        cf_error err;
        cr_assert_eq(cf_lowp_pack_f32(&w, ty ? CF_WTYPE_INT8 : CF_WTYPE_BF16, p.W, p.s.N, p.s.K, p.s.K, 1, &err),
                     CF_OK);
        float *C = calloc((size_t)(p.s.M * p.ldc), sizeof(float)), *D = calloc((size_t)(p.s.M * p.ldc), sizeof(float));
        for (int i = 0; i < n_isa; i++) {
            cf_kernels_force_isa(isas[i]);
            for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
                cf_lowp_linear(&w, p.A, p.s.M, p.lda, p.bias, acts[a], C, p.ldc);
                cf_lowp_linear(&w, p.A, p.s.M, p.lda, p.bias, CF_ACT_NONE, D, p.ldc);
                for (int64_t r = 0; r < p.s.M; r++) {
                    cf_act_span(acts[a], D + r * p.ldc, p.s.N);
                    for (int64_t j = 0; j < p.s.N; j++)
                        cr_assert_eq(C[r * p.ldc + j], D[r * p.ldc + j], "%s act %d [%lld,%lld]",
                                     cf_isa_name(isas[i]), (int)acts[a], (long long)r, (long long)j);
                }
            }
        }
        cf_kernels_force_isa(cf_cpu_best_isa());
        free(C);
        free(D);
        cf_lowp_free(&w);
    }
    free_problem(&p);
}

/* Packing from bf16 bits and from a transposed (Conv1D) layout gives the same panels. */
Test(lowp, pack_sources_agree)
{
    const int64_t N = 70, K = 37;
    float *W = random_floats((size_t)(N * K), 3, 1.0f), *Wt = malloc(sizeof(float) * (size_t)(N * K));
    uint16_t *bits = malloc(sizeof(uint16_t) * (size_t)(N * K));
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            Wt[k * N + n] = W[n * K + k];
            bits[n * K + k] = cf_f32_to_bf16(W[n * K + k]);
        }
    cf_error err;
    for (int ty = 0; ty < 2; ty++) {
        cf_wtype type = ty ? CF_WTYPE_INT8 : CF_WTYPE_BF16;
        cf_lowp_weights a, b;
        cr_assert_eq(cf_lowp_pack_f32(&a, type, W, N, K, K, 1, &err), CF_OK);
        cr_assert_eq(cf_lowp_pack_f32(&b, type, Wt, N, K, 1, N, &err), CF_OK);
        size_t words = (size_t)((N + 47) / 48 * 48 * cf_lowp_words(&a));
        cr_assert(!memcmp(a.panels, b.panels, words * 4), "%s: transposed source packs differently", cf_wtype_name(type));
        if (type == CF_WTYPE_BF16) {
            cf_lowp_weights c;
            cr_assert_eq(cf_lowp_pack_bf16_bits(&c, bits, N, K, K, 1, &err), CF_OK);
            cr_assert(!memcmp(a.panels, c.panels, words * 4), "bf16 bits pack differently from rounded f32");
            cf_lowp_free(&c);
        }
        cf_lowp_free(&a);
        cf_lowp_free(&b);
    }
    free(W);
    free(Wt);
    free(bits);
}

Test(lowp, conversion_rounds_to_nearest_even)
{
    cr_assert_eq(cf_f32_to_bf16(1.0f), 0x3f80);
    union { uint32_t u; float f; } v = {0x3f808000u}; /* exactly halfway, even below: stays */
    cr_assert_eq(cf_f32_to_bf16(v.f), 0x3f80);
    v.u = 0x3f818000u; /* halfway, odd below: rounds up */
    cr_assert_eq(cf_f32_to_bf16(v.f), 0x3f82);
    v.u = 0x3f808001u;
    cr_assert_eq(cf_f32_to_bf16(v.f), 0x3f81);
    cr_assert(isnan(cf_bf16_to_f32(cf_f32_to_bf16(NAN))));
    cr_assert(isinf(cf_bf16_to_f32(cf_f32_to_bf16(INFINITY))));
}

/* The AVX-512 row conversions produce the portable words bit for bit. */
Test(lowp, activation_conversion_identical_across_isas)
{
    if (cf_cpu_best_isa() != CF_ISA_AVX512)
        return;
    const int64_t R = 5, K = 45, kp8 = 48, ld = 32; /* rows of 64 bytes, as the driver lays them out */
    float *A = random_floats((size_t)(R * K), 11, 3.0f);
    A[3] = NAN;
    uint32_t x[5 * 32], y[5 * 32];
    float s1[5], s2[5];
    int32_t z1[5], z2[5];
    memset(x, 0, sizeof x), memset(y, 0, sizeof y);
    cf_lowp_bf16_rows_portable(A, K, K, 46, x, ld, 1, R);
    cf_lowp_bf16_rows_avx512(A, K, K, 46, y, ld, 1, R);
    for (int64_t r = 1; r < R; r++)
        cr_assert(!memcmp(x + r * ld, y + r * ld, 23 * 4), "bf16 row %lld", (long long)r);
    memset(x, 0, sizeof x), memset(y, 0, sizeof y);
    cf_lowp_quant_rows_portable(A, K, K, kp8, x, ld, s1, z1, 1, R);
    cf_lowp_quant_rows_avx512(A, K, K, kp8, y, ld, s2, z2, 1, R);
    for (int64_t r = 1; r < R; r++) {
        cr_assert_eq(s1[r], s2[r]);
        cr_assert_eq(z1[r], z2[r]);
        cr_assert(!memcmp(x + r * ld, y + r * ld, 12 * 4), "int8 row %lld", (long long)r);
    }
    free(A);
}

Test(lowp, bad_shapes_are_errors)
{
    cf_lowp_weights w;
    cf_error err;
    float one = 1;
    cr_assert_eq(cf_lowp_pack_f32(&w, CF_WTYPE_F32, &one, 1, 1, 1, 1, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_lowp_pack_f32(&w, CF_WTYPE_INT8, &one, 0, 1, 1, 1, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_lowp_pack_f32(&w, CF_WTYPE_INT8, &one, 1, CF_LOWP_INT8_MAX_K + 1, 1, 1, &err),
                 CF_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "K <="), "%s", err.message);
    cf_wtype t;
    cr_assert(cf_wtype_parse("bf16", &t) && t == CF_WTYPE_BF16);
    cr_assert(cf_wtype_parse("int8", &t) && t == CF_WTYPE_INT8);
    cr_assert(!cf_wtype_parse("int4", &t));
}
