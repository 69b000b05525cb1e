/* Softmax, layer norm, RMS norm, activations, broadcast arithmetic and embedding gather against
 * double-precision references, on rows of 1, 7, 768 and 50257 elements, with 1 and 2 threads.
 * Tolerances (|got - want| <= atol + rtol*|want|) are stated per test. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "kref.h"

static const int64_t WIDTHS[] = {1, 7, 768, 50257};
#define N_WIDTHS (sizeof WIDTHS / sizeof *WIDTHS)

static void expect_close(const float *got, const double *want, int64_t n, double atol, double rtol, const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(got[i] - want[i]);
        if (!(err <= atol + rtol * fabs(want[i])))
            cr_assert_fail("%s: [%ld] = %.9g, reference %.9g (err %.3g > %.3g + %.3g*|ref|)", what, (long)i, got[i],
                           want[i], err, atol, rtol);
    }
}

/* Runs the body once with 1 thread and once with 2. */
#define FOR_THREADS(t) for (int t = 1; t <= 2; t++) if ((cf_threads_set(t), 1))

/* Runs the body once per instruction set this CPU has (portable, AVX2, AVX-512). */
#define FOR_ISAS(isa)                                                         \
    cf_isa isa##_list[3];                                                     \
    int isa##_n = supported_isas(isa##_list);                                 \
    for (int isa##_i = 0; isa##_i < isa##_n; isa##_i++)                       \
        for (cf_isa isa = cf_kernels_force_isa(isa##_list[isa##_i]), *isa##_once = &isa; isa##_once; isa##_once = NULL)

Test(softmax, matches_reference_and_survives_large_logits)
{
    /* rtol 2e-5: n/16 partial sums in f32 plus 2 ulp of exp. */
    FOR_ISAS(isa)
    FOR_THREADS(t)
    for (size_t w = 0; w < N_WIDTHS; w++) {
        int64_t n = WIDTHS[w], rows = 3;
        float *x = random_floats((size_t)(rows * n), (uint32_t)w, 30.0f);
        x[0] = 1e30f; /* a huge logit must not overflow */
        double *ref = malloc((size_t)(rows * n) * sizeof(double));
        for (int64_t r = 0; r < rows; r++) {
            double mx = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; i++)
                mx = fmax(mx, x[r * n + i]);
            for (int64_t i = 0; i < n; i++)
                sum += exp((double)x[r * n + i] - mx);
            for (int64_t i = 0; i < n; i++)
                ref[r * n + i] = exp((double)x[r * n + i] - mx) / sum;
        }
        cf_softmax_rows(x, rows, n);
        char what[64];
        snprintf(what, sizeof what, "softmax %s n=%ld threads=%d", cf_isa_name(isa), (long)n, t);
        expect_close(x, ref, rows * n, 1e-12, 2e-5, what);
        free(x), free(ref);
    }
}

/* Returns |mean|/std: f32 rounding of the mean alone costs u*|mean|/std in every output. */
static double layer_norm_ref(const float *x, const float *g, const float *b, double *y, int64_t n, double eps)
{
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
        mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] - mean) / sqrt(var + eps) * (g ? g[i] : 1.0) + (b ? b[i] : 0.0);
    return fabs(mean) / sqrt(var + eps);
}

Test(layer_norm, matches_reference_with_offset_rows)
{
    /* Per row: atol 2e-5 + 8u*1.5*|mean|/std (the conditioning of x - mean in f32; |gamma| <= 1.5),
     * rtol 1e-5. f32 two-pass mean/var, as torch computes it. */
    FOR_THREADS(t)
    for (size_t w = 0; w < N_WIDTHS; w++) {
        int64_t n = WIDTHS[w], rows = 5;
        float *x = random_floats((size_t)(rows * n), 40 + (uint32_t)w, 2.0f);
        for (int64_t i = 0; i < n; i++)
            x[n + i] += 1000.0f; /* row 1 sits far from zero: a one-pass E[x^2]-E[x]^2 would fail here */
        float *g = random_floats((size_t)n, 50, 1.5f), *b = random_floats((size_t)n, 51, 0.5f);
        float *y = malloc((size_t)(rows * n) * sizeof(float));
        double *ref = malloc((size_t)(rows * n) * sizeof(double));
        for (int affine = 0; affine <= 1; affine++) {
            cf_layer_norm(x, affine ? g : NULL, affine ? b : NULL, y, rows, n, 1e-5f);
            for (int64_t r = 0; r < rows; r++) {
                double cond = layer_norm_ref(x + r * n, affine ? g : NULL, affine ? b : NULL, ref + r * n, n, 1e-5);
                char what[80];
                snprintf(what, sizeof what, "layer_norm n=%ld row=%ld affine=%d threads=%d", (long)n, (long)r, affine,
                         t);
                expect_close(y + r * n, ref + r * n, n, 2e-5 + 8 * F32_U * 1.5 * cond, 1e-5, what);
            }
        }
        free(x), free(g), free(b), free(y), free(ref);
    }
}

Test(rms_norm, matches_hf_llama_formula)
{
    /* rtol 1e-5, atol 1e-6. */
    FOR_THREADS(t)
    for (size_t w = 0; w < N_WIDTHS; w++) {
        int64_t n = WIDTHS[w], rows = 4;
        float *x = random_floats((size_t)(rows * n), 60 + (uint32_t)w, 3.0f);
        float *g = random_floats((size_t)n, 61, 2.0f);
        float *y = malloc((size_t)(rows * n) * sizeof(float));
        double *ref = malloc((size_t)(rows * n) * sizeof(double));
        for (int64_t r = 0; r < rows; r++) {
            double ms = 0;
            for (int64_t i = 0; i < n; i++)
                ms += (double)x[r * n + i] * x[r * n + i];
            ms /= (double)n;
            for (int64_t i = 0; i < n; i++)
                ref[r * n + i] = g[i] * (x[r * n + i] / sqrt(ms + 1e-6));
        }
        cf_rms_norm(x, g, y, rows, n, 1e-6f);
        char what[64];
        snprintf(what, sizeof what, "rms_norm n=%ld threads=%d", (long)n, t);
        expect_close(y, ref, rows * n, 1e-6, 1e-5, what);
        free(x), free(g), free(y), free(ref);
    }
}

/* Activations on a sweep of [-12, 12] (plus the random widths), against the double formula. */
typedef void (*act_fn)(float *, int64_t);
typedef double (*act_ref)(double);

static double gelu_erf_ref(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh_ref(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double silu_ref(double x) { return x / (1.0 + exp(-x)); }
static double relu_ref(double x) { return x > 0 ? x : 0; }

/* atol 1e-6 covers f32 cancellation in 1 + erf/tanh for negative x; rtol 4e-6 a few ulp elsewhere. */
static void check_activation(act_fn fn, act_ref ref, const char *name)
{
    FOR_ISAS(isa)
    FOR_THREADS(t)
    for (size_t w = 0; w < N_WIDTHS + 1; w++) {
        int64_t n = w < N_WIDTHS ? WIDTHS[w] : 100001;
        float *x = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++)
            x[i] = n == 1 ? 0.5f : -12.0f + 24.0f * (float)i / (float)(n - 1);
        double *want = malloc((size_t)n * sizeof(double));
        for (int64_t i = 0; i < n; i++)
            want[i] = ref(x[i]);
        fn(x, n);
        char what[64];
        snprintf(what, sizeof what, "%s %s n=%ld threads=%d", name, cf_isa_name(isa), (long)n, t);
        expect_close(x, want, n, 1e-6, 4e-6, what);
        free(x), free(want);
    }
}

Test(activations, gelu_erf) { check_activation(cf_gelu_erf, gelu_erf_ref, "gelu_erf"); }
Test(activations, gelu_tanh) { check_activation(cf_gelu_tanh, gelu_tanh_ref, "gelu_tanh"); }
Test(activations, silu) { check_activation(cf_silu, silu_ref, "silu"); }
Test(activations, relu) { check_activation(cf_relu, relu_ref, "relu"); }
Test(activations, tanh) { check_activation(cf_tanh_inplace, tanh, "tanh"); }

Test(activations, large_inputs_stay_finite)
{
    float x[4] = {-1e4f, 1e4f, -100.0f, 100.0f};
    float y[4];
    act_fn fns[] = {cf_gelu_erf, cf_gelu_tanh, cf_silu, cf_tanh_inplace};
    FOR_ISAS(isa)
    for (size_t f = 0; f < 4; f++) {
        memcpy(y, x, sizeof x);
        fns[f](y, 4);
        for (int i = 0; i < 4; i++)
            cr_assert(isfinite(y[i]), "%s: activation %zu of %g gave %g", cf_isa_name(isa), f, x[i], y[i]);
    }
}

Test(broadcast, add_mul_scale_and_row_bias_are_exact)
{
    int64_t rows = 3, n = 771;
    float *y = random_floats((size_t)(rows * n), 70, 1.0f), *a = random_floats((size_t)(rows * n), 71, 1.0f);
    float *b = random_floats((size_t)n, 72, 1.0f), *orig = malloc((size_t)(rows * n) * sizeof(float));
    memcpy(orig, y, (size_t)(rows * n) * sizeof(float));
    cf_add_row_bias(y, b, rows, n);
    for (int64_t i = 0; i < rows * n; i++)
        cr_assert_eq(y[i], orig[i] + b[i % n]);
    memcpy(y, orig, (size_t)(rows * n) * sizeof(float));
    cf_add(y, a, rows * n);
    for (int64_t i = 0; i < rows * n; i++)
        cr_assert_eq(y[i], orig[i] + a[i]);
    memcpy(y, orig, (size_t)(rows * n) * sizeof(float));
    cf_mul(y, a, rows * n);
    for (int64_t i = 0; i < rows * n; i++)
        cr_assert_eq(y[i], orig[i] * a[i]);
    memcpy(y, orig, (size_t)(rows * n) * sizeof(float));
    cf_scale(y, 0.125f, rows * n);
    for (int64_t i = 0; i < rows * n; i++)
        cr_assert_eq(y[i], orig[i] * 0.125f);
    free(y), free(a), free(b), free(orig);
}

Test(embedding, gathers_rows_in_order)
{
    int64_t vocab = 50257, dim = 7;
    float *table = random_floats((size_t)(vocab * dim), 80, 1.0f);
    int64_t ids[5] = {0, 50256, 3, 3, 1234};
    float out[5 * 7];
    cf_embedding_gather(table, dim, ids, 5, out);
    for (int i = 0; i < 5; i++)
        cr_assert_arr_eq(out + i * dim, table + ids[i] * dim, (size_t)dim * sizeof(float), "row %d", i);
    free(table);
}

/* The fused residual + layer norm gives exactly what cf_add then cf_layer_norm give, also when the
 * output overwrites the added rows (the post-norm layer's x = norm(x + sub) in place). */
Test(rowops, residual_layer_norm_equals_add_then_norm)
{
    enum { R = 37, N = 300 };
    float *a = random_floats(R * N, 81, 2.0f), *b = random_floats(R * N, 82, 2.0f);
    float *g = random_floats(N, 83, 1.0f), *be = random_floats(N, 84, 1.0f);
    float *sum1 = malloc(sizeof(float) * R * N), *sum2 = malloc(sizeof(float) * R * N);
    float *y1 = malloc(sizeof(float) * R * N), *add2 = malloc(sizeof(float) * R * N);
    cf_isa isas[3];
    int n_isa = supported_isas(isas);
    for (int i = 0; i < n_isa; i++) {
        cf_kernels_force_isa(isas[i]);
        memcpy(sum1, a, sizeof(float) * R * N), memcpy(sum2, a, sizeof(float) * R * N);
        memcpy(add2, b, sizeof(float) * R * N);
        cf_add(sum1, b, R * N);
        cf_layer_norm(sum1, g, be, y1, R, N, 1e-5f);
        cf_residual_layer_norm(sum2, add2, g, be, add2, R, N, 1e-5f); /* y aliases add */
        cr_assert(!memcmp(sum1, sum2, sizeof(float) * R * N), "%s: residual sums differ", cf_isa_name(isas[i]));
        cr_assert(!memcmp(y1, add2, sizeof(float) * R * N), "%s: normed rows differ", cf_isa_name(isas[i]));
    }
    cf_kernels_force_isa(cf_cpu_best_isa());
    free(a), free(b), free(g), free(be), free(sum1), free(sum2), free(y1), free(add2);
}
