#include "media/resize.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* 8 bits for the result, 2 for the overshoot of filters with negative lobes. */
#define PRECISION_BITS (32 - 8 - 2)

typedef struct resample_filter {
    double (*weight)(double x);
    double support; /* half-width in input pixels at scale 1 */
} resample_filter;

static double box_weight(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

static double bilinear_weight(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_weight(double x)
{
    x = fabs(x);
    if (x == 0.0)
        return 1.0;
    if (x >= 1.0)
        return 0.0;
    x *= M_PI;
    return sin(x) / x * (0.54f + 0.46f * cos(x)); /* float constants, as in Pillow */
}

static double bicubic_weight(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x)
{
    if (x == 0.0)
        return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos_weight(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

static const resample_filter *filter_for(cf_resample r)
{
    static const resample_filter box = {box_weight, 0.5}, bilinear = {bilinear_weight, 1.0},
                                 hamming = {hamming_weight, 1.0}, bicubic = {bicubic_weight, 2.0},
                                 lanczos = {lanczos_weight, 3.0};
    switch (r) {
    case CF_RESAMPLE_BOX: return &box;
    case CF_RESAMPLE_BILINEAR: return &bilinear;
    case CF_RESAMPLE_HAMMING: return &hamming;
    case CF_RESAMPLE_BICUBIC: return &bicubic;
    case CF_RESAMPLE_LANCZOS: return &lanczos;
    default: return NULL;
    }
}

const char *cf_resample_name(int r)
{
    static const char *const names[] = {"nearest", "lanczos", "bilinear", "bicubic", "box", "hamming"};
    return r >= 0 && r <= 5 ? names[r] : NULL;
}

/* Fixed-point weights of one pass: output pixel i reads `count[i]` input pixels from `first[i]`
 * with weights k[i * ksize ..]. */
typedef struct pass_coeffs {
    int ksize;
    int *first;
    int *count;
    int32_t *k;
} pass_coeffs;

static void coeffs_free(pass_coeffs *c)
{
    free(c->first);
    free(c->count);
    free(c->k);
    memset(c, 0, sizeof *c);
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole input range [0, in_size). */
static cf_status coeffs_compute(int in_size, int out_size, const resample_filter *f, pass_coeffs *c, cf_error *err)
{
    memset(c, 0, sizeof *c);
    double scale = (double)(float)in_size / out_size; /* Pillow's box edges are floats */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    double inv_filterscale = 1.0 / filterscale; /* multiplied, not divided, as Pillow does */
    c->ksize = (int)ceil(support) * 2 + 1;
    c->first = malloc(sizeof(int) * (size_t)out_size);
    c->count = malloc(sizeof(int) * (size_t)out_size);
    c->k = calloc((size_t)out_size * (size_t)c->ksize, sizeof(int32_t));
    double *w = malloc(sizeof(double) * (size_t)c->ksize);
    if (!c->first || !c->count || !c->k || !w) {
        free(w);
        coeffs_free(c);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for resize coefficients (%d -> %d pixels)", in_size, out_size);
    }
    for (int i = 0; i < out_size; i++) {
        double center = (i + 0.5) * scale;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        lo = lo < 0 ? 0 : lo;
        hi = (hi > in_size ? in_size : hi) - lo;
        double sum = 0.0;
        for (int x = 0; x < hi; x++) {
            w[x] = f->weight((x + lo - center + 0.5) * inv_filterscale);
            sum += w[x];
        }
        for (int x = 0; x < hi; x++) {
            double v = sum != 0.0 ? w[x] / sum : w[x];
            c->k[(size_t)i * (size_t)c->ksize + (size_t)x] =
                (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->first[i] = lo;
        c->count[i] = hi;
    }
    free(w);
    return CF_OK;
}

/* Round the fixed-point sum (which started at one half) and clip to 0..255. */
static inline uint8_t clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* One output pixel of `channels` (1..4) samples: the weighted sum of count input pixels. */
static inline void convolve_pixel(const uint8_t *s, const int32_t *k, int count, int channels, uint8_t *dst)
{
    int32_t acc[4] = {1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1), 1 << (PRECISION_BITS - 1),
                      1 << (PRECISION_BITS - 1)};
    for (int i = 0; i < count; i++, s += channels)
        for (int ch = 0; ch < channels; ch++)
            acc[ch] += s[ch] * k[i];
    for (int ch = 0; ch < channels; ch++)
        dst[ch] = clip8(acc[ch]);
}

/* Rows [row0, row0 + rows) of `in`, resampled along x into `out` (rows x out_w). */
static void pass_horizontal(const uint8_t *in, int in_w, int row0, int rows, int channels, const pass_coeffs *c,
                            int out_w, uint8_t *out)
{
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in + (size_t)(row0 + y) * (size_t)in_w * (size_t)channels;
        uint8_t *dst = out + (size_t)y * (size_t)out_w * (size_t)channels;
        for (int x = 0; x < out_w; x++) {
            const int32_t *k = c->k + (size_t)x * (size_t)c->ksize;
            const uint8_t *s = src + (size_t)c->first[x] * (size_t)channels;
            uint8_t *d = dst + (size_t)x * (size_t)channels;
            if (channels == 3) /* the common case, with the channel loop unrolled */
                convolve_pixel(s, k, c->count[x], 3, d);
            else
                convolve_pixel(s, k, c->count[x], channels, d);
        }
    }
}

/* Resample along y; `in` rows are numbered from row0 (the first row the filter reads). The sums
 * run over whole rows so the inner loop is a vectorisable multiply-add. */
static cf_status pass_vertical(const uint8_t *in, int row0, size_t row_len, const pass_coeffs *c, int out_h,
                               uint8_t *out, cf_error *err)
{
    int32_t *acc = malloc(sizeof(int32_t) * row_len);
    if (!acc)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a resize row (%zu samples)", row_len);
    for (int y = 0; y < out_h; y++) {
        const int32_t *k = c->k + (size_t)y * (size_t)c->ksize;
        for (size_t i = 0; i < row_len; i++)
            acc[i] = 1 << (PRECISION_BITS - 1);
        for (int j = 0; j < c->count[y]; j++) {
            const uint8_t *src = in + (size_t)(c->first[y] + j - row0) * row_len;
            int32_t kj = k[j];
            for (size_t i = 0; i < row_len; i++)
                acc[i] += src[i] * kj;
        }
        uint8_t *dst = out + (size_t)y * row_len;
        for (size_t i = 0; i < row_len; i++)
            dst[i] = clip8(acc[i]);
    }
    free(acc);
    return CF_OK;
}

/* Pillow's ImagingResampleInner: a horizontal pass over only the rows the vertical pass reads,
 * then the vertical pass; a pass is skipped when its size does not change. */
static cf_status resample_convolution(const cf_image *in, int w, int h, const resample_filter *f, cf_image *out,
                                      cf_error *err)
{
    bool need_h = w != in->width, need_v = h != in->height;
    int ch = in->channels;
    pass_coeffs ch_x = {0}, ch_y = {0};
    cf_image tmp = {0};
    cf_status st = coeffs_compute(in->height, h, f, &ch_y, err);
    if (st == CF_OK && need_h)
        st = coeffs_compute(in->width, w, f, &ch_x, err);
    const uint8_t *src = in->data;
    int row0 = 0;
    if (st == CF_OK && need_h) {
        int first = ch_y.first[0], last = ch_y.first[h - 1] + ch_y.count[h - 1];
        if (!need_v) {
            first = 0;
            last = in->height;
        }
        st = cf_image_alloc(&tmp, w, last - first, ch, err);
        if (st == CF_OK) {
            pass_horizontal(in->data, in->width, first, last - first, ch, &ch_x, w, tmp.data);
            src = tmp.data;
            row0 = first;
        }
    }
    if (st == CF_OK)
        st = cf_image_alloc(out, w, h, ch, err);
    if (st == CF_OK) {
        if (need_v)
            st = pass_vertical(src, row0, (size_t)w * (size_t)ch, &ch_y, h, out->data, err);
        else
            memcpy(out->data, src, (size_t)w * (size_t)h * (size_t)ch);
    }
    if (st != CF_OK)
        cf_image_free(out);
    cf_image_free(&tmp);
    coeffs_free(&ch_x);
    coeffs_free(&ch_y);
    return st;
}

/* Pillow's ImagingScaleAffine: sample at pixel centres, positions accumulated by repeated addition. */
static cf_status resample_nearest(const cf_image *in, int w, int h, cf_image *out, cf_error *err)
{
    CF_TRY(cf_image_alloc(out, w, h, in->channels, err));
    int *xs = malloc(sizeof(int) * (size_t)w);
    if (!xs) {
        cf_image_free(out);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a %dx%d resize", w, h);
    }
    double dx = (double)(float)in->width / w, dy = (double)(float)in->height / h;
    double xo = dx * 0.5, yo = dy * 0.5;
    for (int x = 0; x < w; x++, xo += dx)
        xs[x] = xo < 0.0 ? -1 : (int)xo;
    size_t c = (size_t)in->channels;
    for (int y = 0; y < h; y++, yo += dy) {
        int sy = yo < 0.0 ? -1 : (int)yo;
        if (sy < 0 || sy >= in->height)
            continue; /* left zero, as PIL fills */
        const uint8_t *row = in->data + (size_t)sy * (size_t)in->width * c;
        uint8_t *dst = out->data + (size_t)y * (size_t)w * c;
        for (int x = 0; x < w; x++)
            if (xs[x] >= 0 && xs[x] < in->width)
                memcpy(dst + (size_t)x * c, row + (size_t)xs[x] * c, c);
    }
    free(xs);
    return CF_OK;
}

cf_status cf_image_resize(const cf_image *in, int width, int height, cf_resample resample, cf_image *out,
                          cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!in || !in->data || in->width <= 0 || in->height <= 0 || in->channels < 1 || in->channels > 4)
        return cf_fail(err, CF_ERR_INVALID_ARG, "resize: the input is not a valid image");
    if (width <= 0 || height <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "resize of a %dx%d image to %dx%d: target sizes must be positive",
                       in->width, in->height, width, height);
    if (width == in->width && height == in->height) {
        CF_TRY(cf_image_alloc(out, width, height, in->channels, err));
        memcpy(out->data, in->data, (size_t)width * (size_t)height * (size_t)in->channels);
        return CF_OK;
    }
    if (resample == CF_RESAMPLE_NEAREST)
        return resample_nearest(in, width, height, out, err);
    const resample_filter *f = filter_for(resample);
    if (!f)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "resample filter %d is not one of PIL's (0 nearest, 1 lanczos, "
                       "2 bilinear, 3 bicubic, 4 box, 5 hamming)", (int)resample);
    /* Pillow's own bound on the coefficient table */
    double scale = (double)in->width / width > (double)in->height / height ? (double)in->width / width
                                                                           : (double)in->height / height;
    int ksize = (int)ceil(f->support * (scale < 1.0 ? 1.0 : scale)) * 2 + 1;
    int longest = width > height ? width : height;
    if (longest > INT_MAX / (ksize * (int)sizeof(double)))
        return cf_fail(err, CF_ERR_NOMEM, "resize %dx%d -> %dx%d needs too large a coefficient table",
                       in->width, in->height, width, height);
    return resample_convolution(in, width, height, f, out, err);
}
