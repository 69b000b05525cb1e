/* cf_matvec_f32 against a double-precision reference on every dispatch path (portable, AVX2,
 * AVX-512 as the CPU allows) with 1 and 2 threads, on odd and GPT-2 shapes, with and without bias.
 * Tolerance: (K+2)*u*sum|w x| + 2u|b| per output, the worst-case f32 summation bound. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kref.h"

static void check_shape(int64_t N, int64_t K, uint32_t seed)
{
    float *W = random_floats((size_t)(N * K), seed, 1.0f);
    float *x = random_floats((size_t)K, seed + 1, 1.0f);
    float *b = random_floats((size_t)N, seed + 2, 1.0f);
    double *ref = malloc((size_t)N * sizeof(double)), *tol = malloc((size_t)N * sizeof(double));
    for (int64_t r = 0; r < N; r++) {
        double s = 0, abs_sum = 0;
        for (int64_t k = 0; k < K; k++) {
            double p = (double)W[r * K + k] * x[k];
            s += p, abs_sum += fabs(p);
        }
        ref[r] = s;
        tol[r] = dot_tolerance(K, abs_sum);
    }
    float *y = malloc((size_t)(N + 1) * sizeof(float));
    cf_isa isas[3];
    int n_isas = supported_isas(isas);
    for (int t = 1; t <= 2; t++) {
        cf_threads_set(t);
        for (int i = 0; i < n_isas; i++) {
            cf_kernels_force_isa(isas[i]);
            for (int with_bias = 0; with_bias <= 1; with_bias++) {
                y[N] = 12345.0f; /* sentinel past the end */
                cf_matvec_f32(W, x, with_bias ? b : NULL, y, N, K);
                for (int64_t r = 0; r < N; r++) {
                    double want = ref[r] + (with_bias ? b[r] : 0.0);
                    double err = fabs(y[r] - want), lim = tol[r] + (with_bias ? 2 * F32_U * fabs(b[r]) : 0);
                    if (!(err <= lim))
                        cr_assert_fail("%s, %d thread(s), bias %d, N=%ld K=%ld: y[%ld]=%.9g want %.9g (err %.3g > %.3g)",
                                 cf_isa_name(isas[i]), t, with_bias, (long)N, (long)K, (long)r, y[r], want, err,
                                 lim);
                }
                cr_assert_eq(y[N], 12345.0f, "wrote past y[N-1]");
            }
        }
    }
    free(W), free(x), free(b), free(ref), free(tol), free(y);
}

Test(matvec, odd_shapes_every_isa)
{
    static const int64_t shapes[][2] = {{1, 1}, {1, 7}, {7, 1}, {7, 7}, {3, 17}, {5, 31}, {9, 33}, {13, 47}, {768, 7}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        check_shape(shapes[s][0], shapes[s][1], (uint32_t)s);
}

Test(matvec, gpt2_shapes_every_isa)
{
    check_shape(2304, 768, 100);
    check_shape(768, 3072, 101);
    check_shape(50257, 768, 102);
}

Test(matvec, empty_is_a_no_op)
{
    float y[1] = {5.0f};
    float w[1] = {1.0f}, x[1] = {1.0f};
    cf_matvec_f32(w, x, NULL, y, 0, 10);
    cr_assert_eq(y[0], 5.0f);
    float b[1] = {2.0f};
    cf_matvec_f32(w, x, b, y, 1, 0); /* K = 0: the bias alone */
    cr_assert_eq(y[0], 2.0f);
}
