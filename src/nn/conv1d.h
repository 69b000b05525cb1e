/* 1-D convolutions over sequences kept channels-last ([T, C] rows: the token layout the
 * transformer layers read), as torch.nn.Conv1d computes them: stride, zero padding, groups.
 * im2col tiles of output steps times one GEMM per group. Weights come in torch's
 * [out, in/groups, kernel] layout (optionally weight-normalised) and are reordered once at load. */
#ifndef CF_NN_CONV1D_H
#define CF_NN_CONV1D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/safetensors.h"

typedef struct cf_conv1d_spec {
    int64_t in_ch, out_ch;
    int kernel, stride, pad, groups;
    bool has_bias;
} cf_conv1d_spec;

typedef struct cf_conv1d {
    cf_conv1d_spec spec;
    float *w;    /* [groups][out/groups][kernel][in/groups] */
    float *bias; /* [out], NULL when the layer has none */
} cf_conv1d;

/* "<prefix>.weight" [out, in/groups, kernel] (and "<prefix>.bias" when spec->has_bias). */
cf_status cf_conv1d_load(cf_conv1d *c, const cf_safetensors *st, const char *prefix, const cf_conv1d_spec *spec,
                         cf_error *err);
/* A weight-normalised convolution (torch.nn.utils.weight_norm): w = g * v / ||v||, the norm taken
 * over every axis but the one g spans. Reads "<prefix>.weight_g"/"weight_v" or the
 * parametrizations spelling "<prefix>.parametrizations.weight.original0"/"original1". */
cf_status cf_conv1d_load_weight_norm(cf_conv1d *c, const cf_safetensors *st, const char *prefix,
                                     const cf_conv1d_spec *spec, cf_error *err);
void cf_conv1d_free(cf_conv1d *c);

/* Output steps for an input of T steps (0 when the kernel does not fit). */
int64_t cf_conv1d_out_len(const cf_conv1d *c, int64_t T);
/* Arena bytes cf_conv1d_forward takes (released before it returns). */
size_t cf_conv1d_scratch_bytes(const cf_conv1d *c, int64_t T);
/* y[out_len, out_ch] = conv(x[T, in_ch]); y must not overlap x. */
void cf_conv1d_forward(const cf_conv1d *c, const float *x, int64_t T, float *y, cf_arena *scratch);

#endif
