/* Operations on feature maps around the convolutions: layout changes, pooling, GroupNorm and
 * resizing as torch.nn.functional.interpolate does it (align_corners=False). Maps are
 * channels-last [H, W, C]; a stack of planes ([N, H, W], channels-first) is the C = 1 case
 * applied per plane. */
#ifndef CF_NN_CONV_MAPS_H
#define CF_NN_CONV_MAPS_H

#include <stdint.h>

/* [n, c, h*w] <-> [n, h*w, c]. */
void cf_nchw_to_nhwc(const float *x, int64_t n, int64_t c, int64_t hw, float *y);
void cf_nhwc_to_nchw(const float *x, int64_t n, int64_t hw, int64_t c, float *y);

/* nn.MaxPool2d(kernel, stride, padding) on [n, h, w, c] (padding counts as -inf). */
void cf_max_pool2d(const float *x, int64_t n, int64_t h, int64_t w, int64_t c, int kernel, int stride, int pad,
                   float *y, int64_t oh, int64_t ow);

/* y[n, c] = mean over h*w of x[n, h*w, c]. */
void cf_global_avg_pool(const float *x, int64_t n, int64_t hw, int64_t c, float *y);

/* nn.GroupNorm(groups, c, eps) with affine weight/bias, in place on [n, hw, c]. */
void cf_group_norm(float *x, int64_t n, int64_t hw, int64_t c, int groups, const float *gamma, const float *beta,
                   float eps);

typedef enum cf_interp_mode {
    CF_INTERP_NEAREST = 0, /* torch "nearest" (floor of dst * in/out) */
    CF_INTERP_BILINEAR,
    CF_INTERP_BICUBIC /* A = -0.75, borders clamped */
} cf_interp_mode;

/* F.interpolate(align_corners=False) of [h, w, c] to [oh, ow, c]. scale_h/scale_w: the
 * scale_factor passed to torch (source coordinates use 1/scale), or 0 to derive in/out from the
 * sizes as torch does when given `size`. */
void cf_interpolate(const float *x, int64_t h, int64_t w, int64_t c, float *y, int64_t oh, int64_t ow,
                    cf_interp_mode mode, double scale_h, double scale_w);

#endif
