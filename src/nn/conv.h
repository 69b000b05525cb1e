/* 2-D convolutions on channels-last (NHWC) feature maps, the layout every vision model here
 * keeps its activations in: a [H*W, C] map is also the token sequence a transformer reads.
 *
 * Dense convolutions are im2col + GEMM over tiles of output pixels (1x1 stride-1 convolutions
 * are a plain GEMM); depthwise convolutions (groups == channels) run a direct kernel. Weights
 * come in torch's [out, in/groups, kh, kw] layout and are reordered once at load. A BatchNorm
 * that follows a convolution in eval mode is folded into its weights and bias. */
#ifndef CF_NN_CONV_H
#define CF_NN_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/safetensors.h"

typedef struct cf_conv2d {
    int64_t in_ch, out_ch;
    int kh, kw, stride, pad;
    bool depthwise; /* groups == in_ch == out_ch */
    float *w;       /* dense: [out, kh, kw, in]; depthwise: [kh, kw, ch] */
    float *bias;    /* [out], zeros when the checkpoint has none */
} cf_conv2d;

typedef struct cf_conv2d_spec {
    int64_t in_ch, out_ch;
    int kernel, stride, pad;
    bool depthwise;
    bool has_bias;
} cf_conv2d_spec;

/* Load "<prefix>.weight" (and "<prefix>.bias" when spec->has_bias). */
cf_status cf_conv2d_load(cf_conv2d *c, const cf_safetensors *st, const char *prefix, const cf_conv2d_spec *spec,
                         cf_error *err);
/* Fold an eval-mode BatchNorm ("<bn>.weight", ".bias", ".running_mean", ".running_var") into c:
 * y = (conv(x) - mean) * weight / sqrt(var + eps) + bias. */
cf_status cf_conv2d_fold_batchnorm(cf_conv2d *c, const cf_safetensors *st, const char *bn, float eps,
                                   cf_error *err);
void cf_conv2d_free(cf_conv2d *c);

/* Output height/width for an input of h x w; false when the kernel does not fit. */
bool cf_conv2d_out_size(const cf_conv2d *c, int64_t h, int64_t w, int64_t *oh, int64_t *ow);
/* Arena bytes cf_conv2d_forward takes (released before it returns). */
size_t cf_conv2d_scratch_bytes(const cf_conv2d *c, int64_t batch, int64_t h, int64_t w);
/* y[batch, oh, ow, out] = conv(x[batch, h, w, in]); y must not overlap x. */
void cf_conv2d_forward(const cf_conv2d *c, const float *x, int64_t batch, int64_t h, int64_t w, float *y,
                       cf_arena *scratch);

#endif
