/* cf_linear: load nn.Linear (f32 view and bf16 converted), GPT-2 Conv1D (transposed at load),
 * forward for M=1 (matvec) and M>1 (GEMM) against a double reference, and clear load errors.
 * Tolerance: (n_in+2)*u*sum|w x| + 2u|b|, the f32 dot-product bound. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/dispatch.h"
#include "nn/activation.h"
#include "nn/linear.h"

#define F32_U 5.960464477539063e-08

static void fill(float *p, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 7u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
}

static char g_path[256];

/* linear.weight [5,7] f32 + bias; half.weight [5,7] bf16 (no bias); conv.weight [7,5] + conv.bias. */
static float W[35], B[5], WC[35], BC[5];
static uint16_t WH[35];

static cf_safetensors *write_and_open(void)
{
    fill(W, 35, 1), fill(B, 5, 2), fill(WC, 35, 3), fill(BC, 5, 4);
    for (int i = 0; i < 35; i++)
        WH[i] = cf_f32_to_bf16(W[i]);
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    int64_t s57[2] = {5, 7}, s75[2] = {7, 5}, s5[1] = {5};
    cf_tensor t;
    t = cf_tensor_view(CF_DTYPE_F32, 2, s57, W);
    cr_assert_eq(cf_st_writer_add(w, "linear.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 1, s5, B);
    cr_assert_eq(cf_st_writer_add(w, "linear.bias", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_BF16, 2, s57, WH);
    cr_assert_eq(cf_st_writer_add(w, "half.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 2, s75, WC);
    cr_assert_eq(cf_st_writer_add(w, "conv.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 1, s5, BC);
    cr_assert_eq(cf_st_writer_add(w, "conv.bias", &t, &err), CF_OK);
    snprintf(g_path, sizeof g_path, "/tmp/cf_test_linear_%d.safetensors", (int)getpid());
    cr_assert_eq(cf_st_writer_save(w, g_path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);
    cf_safetensors *st = NULL;
    cr_assert_eq(cf_st_open(g_path, &st, &err), CF_OK, "%s", err.message);
    return st;
}

static void close_and_remove(cf_safetensors *st)
{
    cf_st_close(st);
    unlink(g_path);
}

/* w_at(o, i) gives the effective [n_out, n_in] weight. */
/* Packed kernel (best ISA) and the plain path (portable forced), M = 1 and M = 3. */
static void check_forward(const cf_linear *l, float (*w_at)(int64_t, int64_t), const float *bias)
{
    for (int pass = 0; pass < 2; pass++)
    for (int64_t M = 1; M <= 3; M += 2) {
        cf_kernels_force_isa(pass ? CF_ISA_PORTABLE : cf_cpu_best_isa());
        float x[21], y[15];
        fill(x, (size_t)(M * 7), (uint32_t)(10 + M));
        cf_linear_forward(l, x, M, y);
        for (int64_t m = 0; m < M; m++)
            for (int64_t o = 0; o < 5; o++) {
                double s = bias ? bias[o] : 0, mag = 0;
                for (int64_t i = 0; i < 7; i++)
                    s += (double)w_at(o, i) * x[m * 7 + i], mag += fabs((double)w_at(o, i) * x[m * 7 + i]);
                double tol = 9 * F32_U * mag + (bias ? 2 * F32_U * fabs(bias[o]) : 0) + 1e-30;
                cr_assert(fabs(y[m * 5 + o] - s) <= tol, "M=%ld y[%ld,%ld]=%.9g want %.9g", (long)M, (long)m, (long)o,
                          y[m * 5 + o], s);
            }
    }
}

static float w_linear(int64_t o, int64_t i) { return W[o * 7 + i]; }
static float w_half(int64_t o, int64_t i) { return cf_bf16_to_f32(WH[o * 7 + i]); }
static float w_conv(int64_t o, int64_t i) { return WC[i * 5 + o]; }

Test(linear, f32_bf16_and_conv1d_forward)
{
    cf_safetensors *st = write_and_open();
    cf_error err = {0};
    cf_linear l;
    cr_assert_eq(cf_linear_load(&l, st, "linear", 7, 5, true, &err), CF_OK, "%s", err.message);
    cr_assert_not(l.owns_w, "f32 weights are used in place");
    check_forward(&l, w_linear, B);
    cf_linear_free(&l);

    cr_assert_eq(cf_linear_load(&l, st, "half", 7, 5, false, &err), CF_OK, "%s", err.message);
    cr_assert(l.owns_w && l.bias == NULL);
    check_forward(&l, w_half, NULL);
    cf_linear_free(&l);

    cr_assert_eq(cf_linear_load_conv1d(&l, st, "conv", 7, 5, &err), CF_OK, "%s", err.message);
    check_forward(&l, w_conv, BC);
    cf_linear_free(&l);
    close_and_remove(st);
}

Test(linear, load_errors_name_the_tensor)
{
    cf_safetensors *st = write_and_open();
    cf_error err = {0};
    cf_linear l;
    cr_assert_eq(cf_linear_load(&l, st, "linear", 7, 6, true, &err), CF_ERR_SHAPE);
    cr_assert(strstr(err.message, "linear.weight"), "message: %s", err.message);
    cr_assert_eq(cf_linear_load(&l, st, "half", 7, 5, true, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "half.bias"), "message: %s", err.message);
    cr_assert_null(l.w, "a failed load leaves nothing to free");
    cr_assert_eq(cf_linear_load_conv1d(&l, st, "linear", 7, 5, &err), CF_ERR_SHAPE, "Conv1D wants [n_in, n_out]");
    cr_assert_eq(cf_linear_load(&l, st, "linear", 0, 5, true, &err), CF_ERR_INVALID_ARG);
    cf_linear_free(&l);
    close_and_remove(st);
}

Test(linear, built_in_memory_and_hand_filled_layers)
{
    fill(W, 35, 1), fill(B, 5, 2);
    float *w = malloc(sizeof W), *b = malloc(sizeof B);
    memcpy(w, W, sizeof W), memcpy(b, B, sizeof B);
    cf_error err = {0};
    cf_linear l;
    cr_assert_eq(cf_linear_init_owned(&l, w, b, 7, 5, &err), CF_OK, "%s", err.message);
    check_forward(&l, w_linear, B);
    cf_linear_free(&l);
    /* Filled in by hand, without a pack: forward must still use these weights. */
    cf_linear hand = {.n_in = 7, .n_out = 5, .w = W, .bias = B};
    check_forward(&hand, w_linear, B);
    cr_assert_eq(cf_linear_init_owned(&l, malloc(4), NULL, 0, 5, &err), CF_ERR_INVALID_ARG);
}

/* Every activation a config can name reaches the output, fused or not: tanh has no GEMM epilogue
 * and runs as its own pass. y = act(x W^T + b) against double for M = 1 (matvec) and M = 3, within
 * 1e-5 relative (the vectorized erf and exp approximations). */
Test(linear, forward_act_applies_every_activation)
{
    fill(W, 35, 3), fill(B, 5, 4);
    float *w = malloc(sizeof W), *b = malloc(sizeof B);
    memcpy(w, W, sizeof W), memcpy(b, B, sizeof B);
    cf_error err = {0};
    cf_linear l;
    cr_assert_eq(cf_linear_init_owned(&l, w, b, 7, 5, &err), CF_OK, "%s", err.message);
    static const cf_activation acts[] = {CF_ACT_TANH, CF_ACT_GELU, CF_ACT_GELU_TANH, CF_ACT_RELU, CF_ACT_SILU};
    float x[3 * 7], y[3 * 5];
    fill(x, 21, 5);
    for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
        for (int64_t M = 1; M <= 3; M += 2) {
            cf_linear_forward_act(&l, x, M, y, acts[a]);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < 5; j++) {
                    double z = B[j];
                    for (int64_t k = 0; k < 7; k++)
                        z += (double)x[i * 7 + k] * W[j * 7 + k];
                    double want = acts[a] == CF_ACT_TANH   ? tanh(z)
                                  : acts[a] == CF_ACT_GELU ? 0.5 * z * (1.0 + erf(z / sqrt(2.0)))
                                  : acts[a] == CF_ACT_GELU_TANH
                                      ? 0.5 * z * (1.0 + tanh(sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)))
                                  : acts[a] == CF_ACT_RELU ? (z > 0 ? z : 0.0)
                                                           : z / (1.0 + exp(-z));
                    cr_assert(fabs(y[i * 5 + j] - want) <= 1e-5 * (1.0 + fabs(want)),
                              "activation %d, M=%ld: y[%ld,%ld] = %.7g, want %.7g", (int)acts[a], (long)M, (long)i,
                              (long)j, y[i * 5 + j], want);
                }
        }
    cf_linear_free(&l);
}
