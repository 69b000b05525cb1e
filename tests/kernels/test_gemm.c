/* cf_gemm_f32 against a double-precision reference: every transpose combination, padded leading
 * dims, alpha/beta, both block implementations (BLAS and own), 1 and 2 threads, and shapes that hit
 * the column split, the row split and ragged edges. Tolerance: K*u*sum|alpha a b| + 2u|beta c|. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_own.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kref.h"

typedef struct gemm_case {
    int64_t M, N, K;
    bool ta, tb;
} gemm_case;

typedef struct gemm_data {
    gemm_case c;
    int64_t lda, ldb, ldc;
    float *A, *B, *C0;
    double *ref, *tol;
} gemm_data;

static const float ALPHA = 0.75f, BETA = -0.5f;

static float a_at(const gemm_data *d, int64_t i, int64_t k) { return d->c.ta ? d->A[k * d->lda + i] : d->A[i * d->lda + k]; }
static float b_at(const gemm_data *d, int64_t k, int64_t j) { return d->c.tb ? d->B[j * d->ldb + k] : d->B[k * d->ldb + j]; }

static gemm_data make_case(gemm_case c, uint32_t seed)
{
    gemm_data d = {.c = c};
    int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
    int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
    d.lda = a_cols + 3; /* padded strides catch any code that assumes contiguous rows */
    d.ldb = b_cols + 5;
    d.ldc = c.N + 1;
    d.A = random_floats((size_t)(a_rows * d.lda), seed, 1.0f);
    d.B = random_floats((size_t)(b_rows * d.ldb), seed + 1, 1.0f);
    d.C0 = random_floats((size_t)(c.M * d.ldc), seed + 2, 1.0f);
    d.ref = malloc((size_t)(c.M * c.N) * sizeof(double));
    d.tol = malloc((size_t)(c.M * c.N) * sizeof(double));
    for (int64_t i = 0; i < c.M; i++)
        for (int64_t j = 0; j < c.N; j++) {
            double s = 0, abs_sum = 0;
            for (int64_t k = 0; k < c.K; k++) {
                double p = (double)a_at(&d, i, k) * b_at(&d, k, j);
                s += p;
                abs_sum += fabs(p);
            }
            double c0 = d.C0[i * d.ldc + j];
            d.ref[i * c.N + j] = ALPHA * s + BETA * c0;
            d.tol[i * c.N + j] = dot_tolerance(c.K, fabs(ALPHA) * abs_sum) + 2 * F32_U * fabs(BETA * c0);
        }
    return d;
}

static void free_case(gemm_data *d)
{
    free(d->A), free(d->B), free(d->C0), free(d->ref), free(d->tol);
}

static void check_case(const gemm_data *d, const char *what)
{
    const gemm_case *c = &d->c;
    float *C = malloc((size_t)(c->M * d->ldc) * sizeof(float));
    memcpy(C, d->C0, (size_t)(c->M * d->ldc) * sizeof(float));
    cf_gemm_f32(c->ta, c->tb, c->M, c->N, c->K, ALPHA, d->A, d->lda, d->B, d->ldb, BETA, C, d->ldc);
    for (int64_t i = 0; i < c->M; i++) {
        for (int64_t j = 0; j < c->N; j++) {
            double err = fabs(C[i * d->ldc + j] - d->ref[i * c->N + j]);
            if (!(err <= d->tol[i * c->N + j]))
                cr_assert_fail("%s M=%ld N=%ld K=%ld ta=%d tb=%d: C[%ld,%ld]=%.9g, reference %.9g (err %.3g > tol %.3g)",
                         what, (long)c->M, (long)c->N, (long)c->K, c->ta, c->tb, (long)i, (long)j,
                         C[i * d->ldc + j], d->ref[i * c->N + j], err, d->tol[i * c->N + j]);
        }
        /* The padding column of C is never written. */
        cr_assert_eq(C[i * d->ldc + c->N], d->C0[i * d->ldc + c->N], "%s wrote past column N", what);
    }
    free(C);
}

/* The same product with op(B) prepacked; the packed kernel and the source fallback (BLAS forced). */
static void check_packed(const gemm_data *d)
{
    const gemm_case *c = &d->c;
    cf_gemm_packed pk;
    cf_error err = {0};
    cr_assert_eq(cf_gemm_pack_b(&pk, c->tb, c->K, c->N, d->B, d->ldb, &err), CF_OK, "%s", err.message);
    float *C = malloc((size_t)(c->M * d->ldc) * sizeof(float));
    for (int t = 1; t <= 2; t++)
        for (int impl = CF_GEMM_AUTO; impl <= CF_GEMM_BLAS; impl++) {
            cf_threads_set(t);
            cf_gemm_force_impl((cf_gemm_impl)impl);
            memcpy(C, d->C0, (size_t)(c->M * d->ldc) * sizeof(float));
            cf_gemm_f32_packed(c->ta, c->M, ALPHA, d->A, d->lda, &pk, BETA, C, d->ldc);
            for (int64_t i = 0; i < c->M; i++) {
                for (int64_t j = 0; j < c->N; j++) {
                    double err_ij = fabs(C[i * d->ldc + j] - d->ref[i * c->N + j]);
                    if (!(err_ij <= d->tol[i * c->N + j]))
                        cr_assert_fail("packed (%s), %d thread(s) M=%ld N=%ld K=%ld ta=%d tb=%d: C[%ld,%ld]=%.9g, "
                                       "reference %.9g (err %.3g > tol %.3g)",
                                       impl == CF_GEMM_BLAS ? "source" : "kernel", t, (long)c->M, (long)c->N,
                                       (long)c->K, c->ta, c->tb, (long)i, (long)j, C[i * d->ldc + j],
                                       d->ref[i * c->N + j], err_ij, d->tol[i * c->N + j]);
                }
                cr_assert_eq(C[i * d->ldc + c->N], d->C0[i * d->ldc + c->N], "packed GEMM wrote past column N");
            }
        }
    cf_gemm_force_impl(CF_GEMM_AUTO);
    free(C);
    cf_gemm_packed_free(&pk);
}

static void run_all_configs(const gemm_data *d)
{
    check_packed(d);
    static const cf_gemm_impl impls[] = {CF_GEMM_BLAS, CF_GEMM_OWN};
    for (int t = 1; t <= 2; t++) {
        cf_threads_set(t);
        for (size_t i = 0; i < 2; i++) {
            if (impls[i] == CF_GEMM_OWN && !cf_gemm_own_available())
                continue;
            cf_gemm_force_impl(impls[i]);
            char what[64];
            snprintf(what, sizeof what, "%s, %d thread(s)", impls[i] == CF_GEMM_OWN ? "own" : "blas", t);
            check_case(d, what);
        }
    }
    cf_gemm_force_impl(CF_GEMM_AUTO);
}

/* shapes[i] = {M, N, K}; every one runs with all four transpose combinations. */
static void run_shapes(const int64_t (*shapes)[3], size_t n)
{
    for (size_t s = 0; s < n; s++)
        for (int tr = 0; tr < 4; tr++) {
            gemm_case c = {shapes[s][0], shapes[s][1], shapes[s][2], tr & 1, tr >> 1};
            gemm_data d = make_case(c, (uint32_t)(s * 4 + tr));
            run_all_configs(&d);
            free_case(&d);
        }
}

Test(gemm, small_and_odd_shapes)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {1, 7, 7}, {3, 7, 17}, {17, 33, 5}, {7, 1, 768}, {3, 129, 64}};
    run_shapes(shapes, sizeof shapes / sizeof *shapes);
}

Test(gemm, transformer_shapes_split_by_columns)
{
    /* N = 12*64+3: a ragged last column block on top of the split. */
    static const int64_t shapes[][3] = {{17, 771, 768}, {128, 200, 96}};
    run_shapes(shapes, sizeof shapes / sizeof *shapes);
}

Test(gemm, tall_narrow_splits_by_rows)
{
    static const int64_t shapes[][3] = {{128, 7, 768}, {301, 33, 40}};
    run_shapes(shapes, sizeof shapes / sizeof *shapes);
}

/* y = x op(B) + bias from a pack, against double; every ISA (narrower ones read the source B). */
Test(gemm, packed_matvec_every_isa)
{
    static const int64_t shapes[][2] = {{1, 1}, {7, 5}, {768, 50}, {768, 2304}, {3072, 97}}; /* K, N */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int tb = 0; tb <= 1; tb++) {
            int64_t K = shapes[s][0], N = shapes[s][1], ldb = tb ? K : N;
            float *B = random_floats((size_t)(K * N), (uint32_t)s, 1.0f), *x = random_floats((size_t)K, 9, 1.0f);
            float *bias = random_floats((size_t)N, 10, 1.0f), *y = malloc((size_t)(N + 1) * sizeof(float));
            cf_gemm_packed pk;
            cf_error err = {0};
            cr_assert_eq(cf_gemm_pack_b(&pk, tb, K, N, B, ldb, &err), CF_OK, "%s", err.message);
            cf_isa isas[3];
            int n_isas = supported_isas(isas);
            for (int i = 0; i < n_isas; i++)
                for (int t = 1; t <= 2; t++) {
                    cf_kernels_force_isa(isas[i]);
                    cf_threads_set(t);
                    y[N] = 4321.0f;
                    cf_matvec_f32_packed(&pk, x, bias, y);
                    for (int64_t j = 0; j < N; j++) {
                        double want = bias[j], mag = 0;
                        for (int64_t k = 0; k < K; k++) {
                            double p = (double)x[k] * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                            want += p, mag += fabs(p);
                        }
                        double lim = dot_tolerance(K, mag) + 2 * F32_U * fabs(bias[j]);
                        cr_assert(fabs(y[j] - want) <= lim, "%s %d thr K=%ld N=%ld tb=%d: y[%ld]=%.9g want %.9g",
                                  cf_isa_name(isas[i]), t, (long)K, (long)N, tb, (long)j, y[j], want);
                    }
                    cr_assert_eq(y[N], 4321.0f, "wrote past y[N-1]");
                }
            cf_kernels_force_isa(cf_cpu_best_isa());
            cf_gemm_packed_free(&pk);
            free(B), free(x), free(bias), free(y);
        }
}

/* C = relu(x B^T + bias) with the bias and activation fused into the packed GEMM's epilogue (and
 * applied after the product on the BLAS fallback), against double. Only the padding column of C
 * must survive, so C starts as NaN to show every element is written. */
Test(gemm, packed_bias_and_activation_epilogue)
{
    static const int64_t shapes[][3] = {{2, 5, 3}, {17, 771, 300}, {128, 96, 520}, {9, 48, 256}}; /* M, N, K */
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ldc = N + 1;
        float *A = random_floats((size_t)(M * K), (uint32_t)s + 20, 1.0f);
        float *B = random_floats((size_t)(N * K), (uint32_t)s + 21, 1.0f);
        float *bias = random_floats((size_t)N, (uint32_t)s + 22, 4.0f), *C = malloc((size_t)(M * ldc) * sizeof(float));
        cf_gemm_packed pk;
        cf_error err = {0};
        cr_assert_eq(cf_gemm_pack_b(&pk, true, K, N, B, K, &err), CF_OK, "%s", err.message);
        for (int t = 1; t <= 2; t++)
            for (int impl = CF_GEMM_AUTO; impl <= CF_GEMM_BLAS; impl++) {
                cf_threads_set(t);
                cf_gemm_force_impl((cf_gemm_impl)impl);
                for (int64_t i = 0; i < M * ldc; i++)
                    C[i] = NAN;
                cf_gemm_f32_packed_bias_act(M, A, K, &pk, bias, CF_ACT_RELU, C, ldc);
                int negatives = 0;
                for (int64_t i = 0; i < M; i++) {
                    for (int64_t j = 0; j < N; j++) {
                        double sum = bias[j], mag = fabs(bias[j]);
                        for (int64_t k = 0; k < K; k++)
                            sum += (double)A[i * K + k] * B[j * K + k], mag += fabs((double)A[i * K + k] * B[j * K + k]);
                        negatives += sum < 0;
                        double want = sum > 0 ? sum : 0, got = C[i * ldc + j];
                        cr_assert(fabs(got - want) <= dot_tolerance(K, mag), "%d thr impl %d M=%ld N=%ld K=%ld: "
                                  "C[%ld,%ld]=%.9g want %.9g", t, impl, (long)M, (long)N, (long)K, (long)i, (long)j,
                                  got, want);
                    }
                    cr_assert(isnan(C[i * ldc + N]), "wrote past column N");
                }
                cr_assert_gt(negatives, 0, "the case must exercise the activation");
            }
        cf_gemm_force_impl(CF_GEMM_AUTO);
        cf_gemm_packed_free(&pk);
        free(A), free(B), free(bias), free(C);
    }
}

Test(gemm, k_zero_and_alpha_zero_scale_c_by_beta)
{
    float C[6] = {1, 2, 3, 4, 5, 6}, A[1] = {NAN}, B[1] = {NAN};
    cf_gemm_f32(false, false, 2, 3, 0, 1.0f, A, 1, B, 3, 0.5f, C, 3);
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(C[i], 0.5f * (float)(i + 1), 0.0f);
    float A2[4] = {1, 2, 3, 4}, B2[6] = {1, 1, 1, 1, 1, 1};
    cf_gemm_f32(false, false, 2, 3, 2, 0.0f, A2, 2, B2, 3, 0.0f, C, 3);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(C[i], 0.0f);
}

Test(gemm, beta_zero_ignores_nan_in_c)
{
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    for (int impl = CF_GEMM_BLAS; impl <= CF_GEMM_OWN; impl++) {
        if (impl == CF_GEMM_OWN && !cf_gemm_own_available())
            continue;
        cf_gemm_force_impl((cf_gemm_impl)impl);
        for (int i = 0; i < 4; i++)
            C[i] = NAN;
        cf_gemm_f32(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(C[i], A[i], "impl %d: C[%d]=%g", impl, i, C[i]);
    }
}
