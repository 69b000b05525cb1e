/* cf_linear under the bf16/int8 load options: which layers convert, that a bf16 checkpoint is packed
 * from its own bits, that Conv1D and Linear layouts give the same layer, fused activations, tied
 * views, and the forward against a double reference within the quantization bound:
 *   bf16: (2u + u^2) sum|w x| + f32 summation, u = 2^-8;
 *   int8: sum(|x| sw/2 + |w| sx/2 + sx sw/4) + f32 rounding, sw = max|w_row|/127,
 *         sx = (max(x,0) - min(x,0))/255 per input row. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nn/linear.h"

#define F32_U 5.960464477539063e-08
enum { NI = 96, NO = 64, NS = 5 };

static float W[NO * NI], WT[NI * NO], B[NO], WS[NS * NS];
static uint16_t WH[NO * NI];
static char g_path[256];

static void fill(float *p, size_t n, uint32_t seed, float scale)
{
    uint32_t s = seed * 2654435761u + 7u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = scale * ((float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
    }
}

static cf_safetensors *open_weights(void)
{
    fill(W, NO * NI, 1, 0.2f), fill(B, NO, 2, 1.0f), fill(WS, NS * NS, 3, 1.0f);
    for (int o = 0; o < NO; o++)
        for (int i = 0; i < NI; i++) {
            WT[i * NO + o] = W[o * NI + i];
            WH[o * NI + i] = cf_f32_to_bf16(W[o * NI + i]);
        }
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    int64_t s_lin[2] = {NO, NI}, s_conv[2] = {NI, NO}, s_b[1] = {NO}, s_small[2] = {NS, NS};
    cf_tensor t = cf_tensor_view(CF_DTYPE_F32, 2, s_lin, W);
    cr_assert_eq(cf_st_writer_add(w, "lin.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 1, s_b, B);
    cr_assert_eq(cf_st_writer_add(w, "lin.bias", &t, &err), CF_OK);
    cr_assert_eq(cf_st_writer_add(w, "conv.bias", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 2, s_conv, WT);
    cr_assert_eq(cf_st_writer_add(w, "conv.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_BF16, 2, s_lin, WH);
    cr_assert_eq(cf_st_writer_add(w, "half.weight", &t, &err), CF_OK);
    t = cf_tensor_view(CF_DTYPE_F32, 2, s_small, WS);
    cr_assert_eq(cf_st_writer_add(w, "small.weight", &t, &err), CF_OK);
    snprintf(g_path, sizeof g_path, "/tmp/cf_test_linear_dtype_%d.safetensors", (int)getpid());
    cr_assert_eq(cf_st_writer_save(w, g_path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);
    cf_safetensors *st = NULL;
    cr_assert_eq(cf_st_open(g_path, &st, &err), CF_OK, "%s", err.message);
    return st;
}

static void close_weights(cf_safetensors *st)
{
    cf_st_close(st);
    unlink(g_path);
}

static cf_linear load_as(cf_wtype t, cf_safetensors *st, const char *prefix, bool bias)
{
    cf_linear l;
    cf_error err = {0};
    cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = t});
    cr_assert_eq(cf_linear_load(&l, st, prefix, NI, NO, bias, &err), CF_OK, "%s", err.message);
    cf_linear_set_load_options(saved);
    return l;
}

static void check_against_reference(const cf_linear *l, cf_wtype t, const float *bias)
{
    for (int64_t M = 1; M <= 7; M += 6) {
        float x[7 * NI], y[7 * NO];
        fill(x, (size_t)(M * NI), (uint32_t)(20 + M), 1.5f);
        cf_linear_forward(l, x, M, y);
        for (int64_t m = 0; m < M; m++) {
            float lo = 0, hi = 0;
            for (int i = 0; i < NI; i++)
                lo = fminf(lo, x[m * NI + i]), hi = fmaxf(hi, x[m * NI + i]);
            double sx = (hi - lo) / 255.0;
            for (int o = 0; o < NO; o++) {
                double want = bias ? bias[o] : 0, mag = 0, amax = 0, sum_x = 0, sum_w = 0;
                for (int i = 0; i < NI; i++) {
                    double w = W[o * NI + i], xv = x[m * NI + i];
                    want += w * xv, mag += fabs(w * xv), amax = fmax(amax, fabs(w));
                    sum_x += fabs(xv), sum_w += fabs(w);
                }
                double sw = amax / 127, tol = (NI + 8) * F32_U * mag + 4 * F32_U * fabs(want);
                tol += t == CF_WTYPE_BF16 ? (2.0 / 256 + 1.0 / 65536) * mag
                                          : 1.001 * (sum_x * sw / 2 + sum_w * sx / 2 + NI * sx * sw / 4);
                cr_assert(fabs(y[m * NO + o] - want) <= tol, "%s M=%lld y[%lld,%d]=%.7g want %.7g (tol %.3g)",
                          cf_wtype_name(t), (long long)M, (long long)m, o, y[m * NO + o], want, tol);
            }
        }
    }
}

Test(linear_dtype, bf16_and_int8_layers_within_quantization_bound)
{
    cf_safetensors *st = open_weights();
    for (int t = CF_WTYPE_BF16; t <= CF_WTYPE_INT8; t++) {
        cf_linear l = load_as((cf_wtype)t, st, "lin", true);
        cr_assert(l.lowp.panels && l.lowp.type == (cf_wtype)t && !l.w, "%s layer not converted",
                  cf_wtype_name((cf_wtype)t));
        check_against_reference(&l, (cf_wtype)t, B);
        cf_linear_free(&l);
    }
    close_weights(st);
}

Test(linear_dtype, bf16_checkpoint_packs_its_own_bits)
{
    cf_safetensors *st = open_weights();
    cf_linear from_bits = load_as(CF_WTYPE_BF16, st, "half", false), from_f32 = load_as(CF_WTYPE_BF16, st, "lin", false);
    size_t words = (size_t)((NO + 47) / 48 * 48 * (NI / 2));
    cr_assert(!memcmp(from_bits.lowp.panels, from_f32.lowp.panels, words * 4),
              "bf16 checkpoint and its f32 original rounded to bf16 pack differently");
    cf_linear_free(&from_bits);
    cf_linear_free(&from_f32);
    close_weights(st);
}

Test(linear_dtype, conv1d_layout_gives_the_same_layer)
{
    cf_safetensors *st = open_weights();
    for (int t = CF_WTYPE_BF16; t <= CF_WTYPE_INT8; t++) {
        cf_linear lin = load_as((cf_wtype)t, st, "lin", true), conv;
        cf_error err = {0};
        cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = (cf_wtype)t});
        cr_assert_eq(cf_linear_load_conv1d(&conv, st, "conv", NI, NO, &err), CF_OK, "%s", err.message);
        cf_linear_set_load_options(saved);
        float x[3 * NI], y1[3 * NO], y2[3 * NO];
        fill(x, 3 * NI, 9, 1.0f);
        cf_linear_forward(&lin, x, 3, y1);
        cf_linear_forward(&conv, x, 3, y2);
        cr_assert(!memcmp(y1, y2, sizeof y1), "%s: Conv1D and Linear layouts differ", cf_wtype_name((cf_wtype)t));
        cf_linear_free(&lin);
        cf_linear_free(&conv);
    }
    close_weights(st);
}

Test(linear_dtype, small_layers_stay_f32_unless_asked)
{
    cf_safetensors *st = open_weights();
    cf_error err = {0};
    cf_linear l;
    cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = CF_WTYPE_INT8});
    cr_assert_eq(cf_linear_load(&l, st, "small", NS, NS, false, &err), CF_OK, "%s", err.message);
    cr_assert(!l.lowp.panels && l.w, "a %dx%d layer was converted", NS, NS);
    cf_linear_free(&l);
    cf_linear_set_load_options((cf_load_options){.dtype = CF_WTYPE_INT8, .lowp_min_dim = 1});
    cr_assert_eq(cf_linear_load(&l, st, "small", NS, NS, false, &err), CF_OK, "%s", err.message);
    cr_assert(l.lowp.panels, "lowp_min_dim = 1 must convert every layer");
    cf_linear_free(&l);
    cf_linear_set_load_options(saved);
    close_weights(st);
}

Test(linear_dtype, fused_activation_and_tied_view)
{
    cf_safetensors *st = open_weights();
    for (int t = CF_WTYPE_F32; t <= CF_WTYPE_INT8; t++) {
        cf_linear l;
        cf_error err = {0};
        cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = (cf_wtype)t});
        cr_assert_eq(cf_linear_init_view(&l, W, B, NI, NO, &err), CF_OK, "%s", err.message);
        cf_linear_set_load_options(saved);
        cr_assert_eq(l.lowp.panels != NULL, t != CF_WTYPE_F32);
        cr_assert(t != CF_WTYPE_F32 || l.w == W, "an f32 view must not copy");
        float x[4 * NI], y[4 * NO], z[4 * NO];
        fill(x, 4 * NI, 4, 1.0f);
        cf_linear_forward_act(&l, x, 4, y, CF_ACT_GELU_TANH);
        cf_linear_forward(&l, x, 4, z);
        cf_act_span(CF_ACT_GELU_TANH, z, 4 * NO);
        for (int i = 0; i < 4 * NO; i++)
            cr_assert(fabsf(y[i] - z[i]) <= 4 * F32_U * fabsf(z[i]) + 1e-7f, "%s [%d] fused %.8g separate %.8g",
                      cf_wtype_name((cf_wtype)t), i, y[i], z[i]);
        cf_linear_free(&l);
    }
    close_weights(st);
}
