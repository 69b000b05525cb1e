#include "nn/conv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "core/threadpool.h"

/* im2col tiles hold at most this many floats, so scratch stays small for large images. */
#define CONV_TILE_FLOATS ((int64_t)1 << 20)

static cf_status alloc_floats(float **out, int64_t n, const char *what, cf_error *err)
{
    *out = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!*out)
        return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate %lld floats", what, (long long)n);
    return CF_OK;
}

/* torch [out, in, kh, kw] -> [out, kh, kw, in] (dense) or [ch, 1, kh, kw] -> [kh, kw, ch]. */
static void reorder_weight(cf_conv2d *c, const float *src)
{
    int64_t kk = (int64_t)c->kh * c->kw;
    if (c->depthwise) {
        for (int64_t ch = 0; ch < c->out_ch; ch++)
            for (int64_t k = 0; k < kk; k++)
                c->w[k * c->out_ch + ch] = src[ch * kk + k];
        return;
    }
    for (int64_t o = 0; o < c->out_ch; o++)
        for (int64_t i = 0; i < c->in_ch; i++)
            for (int64_t k = 0; k < kk; k++)
                c->w[(o * kk + k) * c->in_ch + i] = src[(o * c->in_ch + i) * kk + k];
}

cf_status cf_conv2d_load(cf_conv2d *c, const cf_safetensors *st, const char *prefix, const cf_conv2d_spec *spec,
                         cf_error *err)
{
    *c = (cf_conv2d){.in_ch = spec->in_ch, .out_ch = spec->out_ch, .kh = spec->kernel, .kw = spec->kernel,
                     .stride = spec->stride, .pad = spec->pad, .depthwise = spec->depthwise};
    if (spec->in_ch <= 0 || spec->out_ch <= 0 || spec->kernel <= 0 || spec->stride <= 0 || spec->pad < 0 ||
        (spec->depthwise && spec->in_ch != spec->out_ch))
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: invalid convolution (in %lld, out %lld, kernel %d, stride %d, padding %d)", prefix,
                       (long long)spec->in_ch, (long long)spec->out_ch, spec->kernel, spec->stride, spec->pad);
    char name[512];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int64_t shape[4] = {spec->out_ch, spec->depthwise ? 1 : spec->in_ch, spec->kernel, spec->kernel};
    float *raw = NULL;
    CF_TRY(cf_st_get_f32(st, name, 4, shape, &raw, err));
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    cf_status s = alloc_floats(&c->w, n, name, err);
    if (s == CF_OK) {
        reorder_weight(c, raw);
        s = alloc_floats(&c->bias, spec->out_ch, prefix, err);
    }
    free(raw);
    if (s == CF_OK && spec->has_bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        float *b = NULL;
        s = cf_st_get_f32(st, name, 1, &spec->out_ch, &b, err);
        if (s == CF_OK)
            memcpy(c->bias, b, (size_t)spec->out_ch * sizeof(float));
        free(b);
    }
    if (s != CF_OK)
        cf_conv2d_free(c);
    return s;
}

cf_status cf_conv2d_fold_batchnorm(cf_conv2d *c, const cf_safetensors *st, const char *bn, float eps,
                                   cf_error *err)
{
    static const char *const parts[4] = {"weight", "bias", "running_mean", "running_var"};
    float *v[4] = {0};
    cf_status s = CF_OK;
    for (int i = 0; i < 4 && s == CF_OK; i++) {
        char name[512];
        snprintf(name, sizeof name, "%s.%s", bn, parts[i]);
        s = cf_st_get_f32(st, name, 1, &c->out_ch, &v[i], err);
    }
    if (s == CF_OK) {
        int64_t per_out = c->depthwise ? 1 : (int64_t)c->kh * c->kw * c->in_ch;
        int64_t kk = (int64_t)c->kh * c->kw;
        for (int64_t o = 0; o < c->out_ch; o++) {
            float scale = v[0][o] / sqrtf(v[3][o] + eps);
            if (c->depthwise)
                for (int64_t k = 0; k < kk; k++)
                    c->w[k * c->out_ch + o] *= scale;
            else
                for (int64_t k = 0; k < per_out; k++)
                    c->w[o * per_out + k] *= scale;
            c->bias[o] = (c->bias[o] - v[2][o]) * scale + v[1][o];
        }
    }
    for (int i = 0; i < 4; i++)
        free(v[i]);
    return s;
}

void cf_conv2d_free(cf_conv2d *c)
{
    free(c->w);
    free(c->bias);
    c->w = c->bias = NULL;
}

bool cf_conv2d_out_size(const cf_conv2d *c, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
    int64_t ph = h + 2 * c->pad - c->kh, pw = w + 2 * c->pad - c->kw;
    if (ph < 0 || pw < 0)
        return false;
    *oh = ph / c->stride + 1;
    *ow = pw / c->stride + 1;
    return true;
}

static bool is_pointwise(const cf_conv2d *c) { return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad == 0; }

static int64_t patch_len(const cf_conv2d *c) { return (int64_t)c->kh * c->kw * c->in_ch; }

static int64_t tile_pixels(const cf_conv2d *c)
{
    int64_t t = CONV_TILE_FLOATS / patch_len(c);
    return t < 16 ? 16 : t;
}

size_t cf_conv2d_scratch_bytes(const cf_conv2d *c, int64_t batch, int64_t h, int64_t w)
{
    int64_t oh, ow;
    if (c->depthwise || is_pointwise(c) || !cf_conv2d_out_size(c, h, w, &oh, &ow))
        return 0;
    int64_t pixels = batch * oh * ow, tile = tile_pixels(c);
    if (pixels < tile)
        tile = pixels;
    size_t bytes = (size_t)(tile * patch_len(c)) * sizeof(float);
    return (bytes + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

typedef struct im2col_job {
    const cf_conv2d *c;
    const float *x;
    int64_t h, w, oh, ow, first_pixel;
    float *col;
} im2col_job;

/* Rows [begin, end) of the tile: one output pixel's receptive field, (ky, kx, c) order. */
static void im2col_rows(void *ctx, int64_t begin, int64_t end)
{
    const im2col_job *j = ctx;
    const cf_conv2d *c = j->c;
    int64_t cin = c->in_ch, len = patch_len(c);
    for (int64_t r = begin; r < end; r++) {
        int64_t p = j->first_pixel + r, per_image = j->oh * j->ow;
        int64_t b = p / per_image, oy = (p % per_image) / j->ow, ox = p % j->ow;
        const float *img = j->x + b * j->h * j->w * cin;
        float *dst = j->col + r * len;
        for (int ky = 0; ky < c->kh; ky++) {
            int64_t iy = oy * c->stride - c->pad + ky;
            for (int kx = 0; kx < c->kw; kx++, dst += cin) {
                int64_t ix = ox * c->stride - c->pad + kx;
                if (iy < 0 || iy >= j->h || ix < 0 || ix >= j->w)
                    memset(dst, 0, (size_t)cin * sizeof(float));
                else
                    memcpy(dst, img + (iy * j->w + ix) * cin, (size_t)cin * sizeof(float));
            }
        }
    }
}

static void dense_forward(const cf_conv2d *c, const float *x, int64_t batch, int64_t h, int64_t w, int64_t oh,
                          int64_t ow, float *y, cf_arena *scratch)
{
    int64_t pixels = batch * oh * ow, len = patch_len(c), out = c->out_ch;
    if (is_pointwise(c)) {
        cf_gemm_f32(false, true, pixels, out, len, 1.0f, x, len, c->w, len, 0.0f, y, out);
    } else {
        size_t mark = cf_arena_mark(scratch);
        int64_t tile = tile_pixels(c);
        if (pixels < tile)
            tile = pixels;
        float *col = cf_arena_floats(scratch, (size_t)(tile * len));
        for (int64_t p0 = 0; p0 < pixels; p0 += tile) {
            int64_t n = pixels - p0 < tile ? pixels - p0 : tile;
            im2col_job job = {.c = c, .x = x, .h = h, .w = w, .oh = oh, .ow = ow, .first_pixel = p0, .col = col};
            cf_parallel_for(n, 64, im2col_rows, &job);
            cf_gemm_f32(false, true, n, out, len, 1.0f, col, len, c->w, len, 0.0f, y + p0 * out, out);
        }
        cf_arena_rewind(scratch, mark);
    }
    cf_add_row_bias(y, c->bias, pixels, out);
}

typedef struct depthwise_job {
    const cf_conv2d *c;
    const float *x;
    int64_t h, w, oh, ow;
    float *y;
} depthwise_job;

/* Output rows [begin, end) over batch*oh: y[oy, ox, :] = bias + sum_k x[iy, ix, :] * w[k, :]. */
static void depthwise_rows(void *ctx, int64_t begin, int64_t end)
{
    const depthwise_job *j = ctx;
    const cf_conv2d *c = j->c;
    int64_t ch = c->out_ch;
    for (int64_t row = begin; row < end; row++) {
        int64_t b = row / j->oh, oy = row % j->oh;
        const float *img = j->x + b * j->h * j->w * ch;
        for (int64_t ox = 0; ox < j->ow; ox++) {
            float *restrict dst = j->y + ((b * j->oh + oy) * j->ow + ox) * ch;
            memcpy(dst, c->bias, (size_t)ch * sizeof(float));
            for (int ky = 0; ky < c->kh; ky++) {
                int64_t iy = oy * c->stride - c->pad + ky;
                if (iy < 0 || iy >= j->h)
                    continue;
                for (int kx = 0; kx < c->kw; kx++) {
                    int64_t ix = ox * c->stride - c->pad + kx;
                    if (ix < 0 || ix >= j->w)
                        continue;
                    const float *restrict src = img + (iy * j->w + ix) * ch;
                    const float *restrict wk = c->w + ((int64_t)ky * c->kw + kx) * ch;
                    for (int64_t i = 0; i < ch; i++)
                        dst[i] += src[i] * wk[i];
                }
            }
        }
    }
}

void cf_conv2d_forward(const cf_conv2d *c, const float *x, int64_t batch, int64_t h, int64_t w, float *y,
                       cf_arena *scratch)
{
    int64_t oh, ow;
    if (!cf_conv2d_out_size(c, h, w, &oh, &ow))
        return;
    if (c->depthwise) {
        depthwise_job job = {.c = c, .x = x, .h = h, .w = w, .oh = oh, .ow = ow, .y = y};
        cf_parallel_for(batch * oh, 4, depthwise_rows, &job);
    } else {
        dense_forward(c, x, batch, h, w, oh, ow, y, scratch);
    }
}
