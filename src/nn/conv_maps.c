#include "nn/conv_maps.h"

#include <math.h>
#include <stdbool.h>

#include "core/threadpool.h"

void cf_nchw_to_nhwc(const float *x, int64_t n, int64_t c, int64_t hw, float *y)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                y[(b * hw + p) * c + ch] = x[(b * c + ch) * hw + p];
}

void cf_nhwc_to_nchw(const float *x, int64_t n, int64_t hw, int64_t c, float *y)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t ch = 0; ch < c; ch++)
                y[(b * c + ch) * hw + p] = x[(b * hw + p) * c + ch];
}

void cf_max_pool2d(const float *x, int64_t n, int64_t h, int64_t w, int64_t c, int kernel, int stride, int pad,
                   float *y, int64_t oh, int64_t ow)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                float *dst = y + ((b * oh + oy) * ow + ox) * c;
                for (int64_t ch = 0; ch < c; ch++)
                    dst[ch] = -INFINITY;
                for (int ky = 0; ky < kernel; ky++) {
                    int64_t iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= h)
                        continue;
                    for (int kx = 0; kx < kernel; kx++) {
                        int64_t ix = ox * stride - pad + kx;
                        if (ix < 0 || ix >= w)
                            continue;
                        const float *src = x + ((b * h + iy) * w + ix) * c;
                        for (int64_t ch = 0; ch < c; ch++)
                            if (src[ch] > dst[ch] || isnan(src[ch]))
                                dst[ch] = src[ch];
                    }
                }
            }
}

void cf_global_avg_pool(const float *x, int64_t n, int64_t hw, int64_t c, float *y)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int64_t p = 0; p < hw; p++)
                sum += x[(b * hw + p) * c + ch];
            y[b * c + ch] = (float)(sum / (double)hw);
        }
}

void cf_group_norm(float *x, int64_t n, int64_t hw, int64_t c, int groups, const float *gamma, const float *beta,
                   float eps)
{
    int64_t per = c / groups;
    for (int64_t b = 0; b < n; b++) {
        float *img = x + b * hw * c;
        for (int g = 0; g < groups; g++) {
            int64_t c0 = g * per;
            double sum = 0, sq = 0;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t ch = c0; ch < c0 + per; ch++) {
                    double v = img[p * c + ch];
                    sum += v;
                    sq += v * v;
                }
            double count = (double)(hw * per), mean = sum / count, var = sq / count - mean * mean;
            float inv = (float)(1.0 / sqrt((var > 0 ? var : 0) + eps)), m = (float)mean;
            for (int64_t p = 0; p < hw; p++)
                for (int64_t ch = c0; ch < c0 + per; ch++)
                    img[p * c + ch] = (img[p * c + ch] - m) * inv * gamma[ch] + beta[ch];
        }
    }
}

/* ---- interpolation: per output index, up to 4 source indices and weights (torch's math, in float) ---- */

typedef struct taps {
    int n;
    int64_t idx[4];
    float wt[4];
} taps;

static float source_scale(int64_t in, int64_t out, double scale)
{
    return scale > 0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

static taps nearest_taps(int64_t dst, int64_t in, int64_t out, double scale)
{
    taps t = {.n = 1, .wt = {1.0f}};
    if (out == in)
        t.idx[0] = dst;
    else if (out == 2 * in)
        t.idx[0] = dst >> 1;
    else {
        int64_t s = (int64_t)floorf((float)dst * source_scale(in, out, scale));
        t.idx[0] = s < in - 1 ? s : in - 1;
    }
    return t;
}

static taps linear_taps(int64_t dst, int64_t in, int64_t out, double scale)
{
    taps t = {.n = 2};
    if (out == in) {
        t.idx[0] = t.idx[1] = dst;
        t.wt[0] = 1.0f;
        return t;
    }
    float real = source_scale(in, out, scale) * ((float)dst + 0.5f) - 0.5f;
    if (real < 0)
        real = 0;
    int64_t i0 = (int64_t)real;
    float l1 = real - (float)i0;
    l1 = l1 < 0 ? 0 : l1 > 1 ? 1 : l1;
    t.idx[0] = i0;
    t.idx[1] = i0 + (i0 < in - 1 ? 1 : 0);
    t.wt[0] = 1.0f - l1;
    t.wt[1] = l1;
    return t;
}

static float cubic1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static float cubic2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

static taps cubic_taps(int64_t dst, int64_t in, int64_t out, double scale)
{
    const float a = -0.75f;
    taps t = {.n = 4};
    float real = source_scale(in, out, scale) * ((float)dst + 0.5f) - 0.5f;
    int64_t i0 = (int64_t)floorf(real);
    if (i0 > in - 1)
        i0 = in - 1;
    float l = real - (float)i0;
    l = l < 0 ? 0 : l > 1 ? 1 : l;
    t.wt[0] = cubic2(l + 1.0f, a);
    t.wt[1] = cubic1(l, a);
    t.wt[2] = cubic1(1.0f - l, a);
    t.wt[3] = cubic2(2.0f - l, a);
    for (int j = 0; j < 4; j++) {
        int64_t k = i0 - 1 + j;
        t.idx[j] = k < 0 ? 0 : k > in - 1 ? in - 1 : k;
    }
    return t;
}

static taps make_taps(cf_interp_mode mode, int64_t dst, int64_t in, int64_t out, double scale)
{
    switch (mode) {
    case CF_INTERP_BILINEAR:
        return linear_taps(dst, in, out, scale);
    case CF_INTERP_BICUBIC:
        return cubic_taps(dst, in, out, scale);
    default:
        return nearest_taps(dst, in, out, scale);
    }
}

typedef struct interp_job {
    const float *x;
    int64_t h, w, c, oh, ow;
    float *y;
    cf_interp_mode mode;
    double scale_h, scale_w;
} interp_job;

static void interp_rows(void *ctx, int64_t begin, int64_t end)
{
    const interp_job *j = ctx;
    for (int64_t oy = begin; oy < end; oy++) {
        taps ty = make_taps(j->mode, oy, j->h, j->oh, j->scale_h);
        for (int64_t ox = 0; ox < j->ow; ox++) {
            taps tx = make_taps(j->mode, ox, j->w, j->ow, j->scale_w);
            float *dst = j->y + (oy * j->ow + ox) * j->c;
            for (int64_t ch = 0; ch < j->c; ch++) {
                float acc = 0;
                for (int a = 0; a < ty.n; a++) {
                    const float *row = j->x + ty.idx[a] * j->w * j->c + ch;
                    float inner = 0;
                    for (int b = 0; b < tx.n; b++)
                        inner += row[tx.idx[b] * j->c] * tx.wt[b];
                    acc += inner * ty.wt[a];
                }
                dst[ch] = acc;
            }
        }
    }
}

void cf_interpolate(const float *x, int64_t h, int64_t w, int64_t c, float *y, int64_t oh, int64_t ow,
                    cf_interp_mode mode, double scale_h, double scale_w)
{
    interp_job job = {.x = x, .h = h, .w = w, .c = c, .oh = oh, .ow = ow, .y = y, .mode = mode,
                      .scale_h = scale_h, .scale_w = scale_w};
    cf_parallel_for(oh, 8, interp_rows, &job);
}
