#include "media/image_processors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ configuration ---- */

static const double IMAGENET_DEFAULT_MEAN[3] = {0.485, 0.456, 0.406};
static const double IMAGENET_DEFAULT_STD[3] = {0.229, 0.224, 0.225};
static const double IMAGENET_STANDARD_MEAN[3] = {0.5, 0.5, 0.5};
static const double IMAGENET_STANDARD_STD[3] = {0.5, 0.5, 0.5};

typedef struct processor_name {
    const char *name;
    cf_image_processor_kind kind;
} processor_name;

static const processor_name PROCESSOR_NAMES[] = {
    {"ViTImageProcessor", CF_IMAGE_PROCESSOR_VIT},       {"ViTFeatureExtractor", CF_IMAGE_PROCESSOR_VIT},
    {"ConvNextImageProcessor", CF_IMAGE_PROCESSOR_CONVNEXT}, {"ConvNextFeatureExtractor", CF_IMAGE_PROCESSOR_CONVNEXT},
    {"DetrImageProcessor", CF_IMAGE_PROCESSOR_DETR},     {"DetrFeatureExtractor", CF_IMAGE_PROCESSOR_DETR},
    {"GLPNImageProcessor", CF_IMAGE_PROCESSOR_GLPN},     {"GLPNFeatureExtractor", CF_IMAGE_PROCESSOR_GLPN},
};

static cf_status read_kind(cf_image_processor *p, const cf_config *cfg, cf_error *err)
{
    const char *type = cf_config_str(cfg, "image_processor_type", NULL);
    if (!type)
        type = cf_config_str(cfg, "feature_extractor_type", NULL);
    if (!type)
        return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no \"image_processor_type\" (or \"feature_extractor_type\")",
                       cfg->path);
    for (size_t i = 0; i < sizeof PROCESSOR_NAMES / sizeof *PROCESSOR_NAMES; i++)
        if (strcmp(type, PROCESSOR_NAMES[i].name) == 0) {
            p->kind = PROCESSOR_NAMES[i].kind;
            snprintf(p->name, sizeof p->name, "%s", type);
            return CF_OK;
        }
    return cf_fail(err, CF_ERR_UNSUPPORTED,
                   "%s: image processor \"%s\" is not supported (ViTImageProcessor, ConvNextImageProcessor, "
                   "DetrImageProcessor, GLPNImageProcessor)", cfg->path, type);
}

/* "image_mean"/"image_std": three numbers, or one for all channels. */
static cf_status read_triple(const cf_config *cfg, const char *key, const double dflt[3], double out[3], cf_error *err)
{
    const cJSON *v = cf_config_get(cfg, key);
    if (!v || cJSON_IsNull(v)) {
        memcpy(out, dflt, 3 * sizeof *out);
        return CF_OK;
    }
    if (cJSON_IsNumber(v)) {
        out[0] = out[1] = out[2] = v->valuedouble;
        return CF_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be a number or a list of 3 numbers (one per RGB channel)",
                       cfg->path, key);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\"[%d] is not a number", cfg->path, key, i);
        out[i] = e->valuedouble;
    }
    return CF_OK;
}

static cf_status read_resample(cf_image_processor *p, const cf_config *cfg, cf_error *err)
{
    int64_t r = cf_config_int(cfg, "resample", CF_RESAMPLE_BILINEAR);
    if (r < 0 || r > CF_RESAMPLE_HAMMING)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"resample\" is %lld, not a PIL filter (0 nearest, 1 lanczos, "
                       "2 bilinear, 3 bicubic, 4 box, 5 hamming)", cfg->path, (long long)r);
    p->resample = (cf_resample)r;
    return CF_OK;
}

static bool positive_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble == (double)(int64_t)v->valuedouble; }

/* "size" as get_size_dict reads it: an int is a square for ViT and a shortest edge (plus the old
 * "max_size" as longest edge) for ConvNeXT and DETR. */
static cf_status read_size(cf_image_processor *p, const cf_config *cfg, cf_error *err)
{
    const cJSON *size = cf_config_get(cfg, "size");
    bool square = p->kind == CF_IMAGE_PROCESSOR_VIT;
    if (!size || cJSON_IsNull(size)) {
        if (p->kind == CF_IMAGE_PROCESSOR_VIT)
            p->height = p->width = 224;
        else if (p->kind == CF_IMAGE_PROCESSOR_CONVNEXT)
            p->shortest_edge = 384;
        else {
            p->shortest_edge = 800;
            p->longest_edge = 1333;
        }
        return CF_OK;
    }
    if (cJSON_IsNumber(size)) {
        if (!positive_int(size))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"size\" must be a positive integer, got %g", cfg->path,
                           size->valuedouble);
        if (square)
            p->height = p->width = (int64_t)size->valuedouble;
        else
            p->shortest_edge = (int64_t)size->valuedouble;
        p->longest_edge = p->kind == CF_IMAGE_PROCESSOR_DETR ? cf_config_int(cfg, "max_size", 0) : 0;
        return CF_OK;
    }
    static const char *const keys[] = {"height", "width", "shortest_edge", "longest_edge"};
    int64_t *fields[] = {&p->height, &p->width, &p->shortest_edge, &p->longest_edge};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(size, keys[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!positive_int(v))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"size.%s\" must be a positive integer", cfg->path, keys[i]);
        *fields[i] = (int64_t)v->valuedouble;
    }
    return CF_OK;
}

/* The size keys each processor's resize() insists on. */
static cf_status check_size(const cf_image_processor *p, const cf_config *cfg, cf_error *err)
{
    bool hw = p->height > 0 && p->width > 0;
    switch (p->kind) {
    case CF_IMAGE_PROCESSOR_VIT:
        if (!hw)
            return cf_fail(err, CF_ERR_FORMAT, "%s: ViTImageProcessor needs \"size\" with \"height\" and \"width\"",
                           cfg->path);
        break;
    case CF_IMAGE_PROCESSOR_CONVNEXT:
        if (p->shortest_edge <= 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: ConvNextImageProcessor needs \"size\" with \"shortest_edge\"",
                           cfg->path);
        if (!(p->crop_pct > 0))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"crop_pct\" must be positive, got %g", cfg->path, p->crop_pct);
        break;
    case CF_IMAGE_PROCESSOR_DETR:
        if (!hw && !(p->shortest_edge > 0 && p->longest_edge > 0))
            return cf_fail(err, CF_ERR_FORMAT, "%s: DetrImageProcessor needs \"size\" with \"shortest_edge\" and "
                           "\"longest_edge\", or \"height\" and \"width\"", cfg->path);
        break;
    case CF_IMAGE_PROCESSOR_GLPN:
        if (p->size_divisor <= 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"size_divisor\" must be positive, got %lld", cfg->path,
                           (long long)p->size_divisor);
        break;
    }
    return CF_OK;
}

cf_status cf_image_processor_init(cf_image_processor *p, const cf_config *cfg, cf_error *err)
{
    memset(p, 0, sizeof *p);
    CF_TRY(read_kind(p, cfg, err));
    bool standard = p->kind == CF_IMAGE_PROCESSOR_VIT;
    p->do_resize = cf_config_bool(cfg, "do_resize", true);
    p->do_rescale = cf_config_bool(cfg, "do_rescale", true);
    p->do_normalize = p->kind != CF_IMAGE_PROCESSOR_GLPN && cf_config_bool(cfg, "do_normalize", true);
    p->do_pad = p->kind == CF_IMAGE_PROCESSOR_DETR && cf_config_bool(cfg, "do_pad", true);
    /* GLPN rescales by a hard-coded 1 / 255 */
    p->rescale_factor = p->kind == CF_IMAGE_PROCESSOR_GLPN ? 1.0 / 255 : cf_config_float(cfg, "rescale_factor", 1.0 / 255);
    p->crop_pct = cf_config_has(cfg, "crop_pct") ? cf_config_float(cfg, "crop_pct", 0) : 224.0 / 256;
    p->size_divisor = cf_config_int(cfg, "size_divisor", 32);
    CF_TRY(read_resample(p, cfg, err));
    CF_TRY(read_triple(cfg, "image_mean", standard ? IMAGENET_STANDARD_MEAN : IMAGENET_DEFAULT_MEAN, p->mean, err));
    CF_TRY(read_triple(cfg, "image_std", standard ? IMAGENET_STANDARD_STD : IMAGENET_DEFAULT_STD, p->std, err));
    if (p->kind != CF_IMAGE_PROCESSOR_GLPN)
        CF_TRY(read_size(p, cfg, err));
    return check_size(p, cfg, err);
}

/* ------------------------------------------------------------------ output sizes ---- */

/* transformers' get_resize_output_image_size(default_to_square=False): the shorter side becomes
 * `size`, the longer int(size * long / short). */
static void shortest_edge_size(int64_t h, int64_t w, int64_t size, int64_t *oh, int64_t *ow)
{
    int64_t short_side = w <= h ? w : h, long_side = w <= h ? h : w;
    int64_t new_long = (int64_t)((double)(size * long_side) / (double)short_side);
    *oh = w <= h ? new_long : size;
    *ow = w <= h ? size : new_long;
}

/* DETR's get_size_with_aspect_ratio (Python's round() is half-to-even, as nearbyint is). */
static void detr_aspect_size(int64_t h, int64_t w, int64_t size, int64_t max_size, int64_t *oh, int64_t *ow)
{
    double min_side = (double)(h < w ? h : w), max_side = (double)(h < w ? w : h);
    if (max_size > 0 && max_side / min_side * (double)size > (double)max_size)
        size = (int64_t)nearbyint((double)max_size * min_side / max_side);
    if ((h <= w && h == size) || (w <= h && w == size)) {
        *oh = h;
        *ow = w;
    } else if (w < h) {
        *ow = size;
        *oh = (int64_t)((double)(size * h) / (double)w);
    } else {
        *oh = size;
        *ow = (int64_t)((double)(size * w) / (double)h);
    }
}

/* Size of the resize step alone (ConvNeXT crops afterwards). */
static void resize_size(const cf_image_processor *p, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
    switch (p->kind) {
    case CF_IMAGE_PROCESSOR_VIT:
        *oh = p->height;
        *ow = p->width;
        break;
    case CF_IMAGE_PROCESSOR_CONVNEXT:
        if (p->shortest_edge < 384)
            shortest_edge_size(h, w, (int64_t)((double)p->shortest_edge / p->crop_pct), oh, ow);
        else
            *oh = *ow = p->shortest_edge;
        break;
    case CF_IMAGE_PROCESSOR_DETR:
        if (p->height > 0 && p->width > 0) {
            *oh = p->height;
            *ow = p->width;
        } else {
            detr_aspect_size(h, w, p->shortest_edge, p->longest_edge, oh, ow);
        }
        break;
    case CF_IMAGE_PROCESSOR_GLPN:
        *oh = h / p->size_divisor * p->size_divisor;
        *ow = w / p->size_divisor * p->size_divisor;
        break;
    }
}

static bool convnext_crops(const cf_image_processor *p)
{
    return p->kind == CF_IMAGE_PROCESSOR_CONVNEXT && p->do_resize && p->shortest_edge < 384;
}

cf_status cf_image_processor_output_size(const cf_image_processor *p, int64_t h, int64_t w, int64_t *oh, int64_t *ow,
                                         cf_error *err)
{
    *oh = h;
    *ow = w;
    if (h <= 0 || w <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: image size %lldx%lld is empty", p->name, (long long)w,
                       (long long)h);
    if (!p->do_resize)
        return CF_OK;
    resize_size(p, h, w, oh, ow);
    if (*oh <= 0 || *ow <= 0 || *oh > 1 << 20 || *ow > 1 << 20)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "%s: a %lldx%lld image would be resized to %lldx%lld (width x height)%s", p->name,
                       (long long)w, (long long)h, (long long)*ow, (long long)*oh,
                       p->kind == CF_IMAGE_PROCESSOR_GLPN ? "; it must be at least size_divisor in both sides" : "");
    if (convnext_crops(p))
        *oh = *ow = p->shortest_edge;
    return CF_OK;
}

/* ------------------------------------------------------------------ pixel steps ---- */

static int64_t floor_div2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* transformers' center_crop: crop (h, w) around the centre; where the image is smaller it is
 * first zero-padded, with the extra row/column on the top/left (ceil of half the difference). */
static cf_status center_crop(const cf_image *in, int ch, int cw, cf_image *out, cf_error *err)
{
    CF_TRY(cf_image_alloc(out, cw, ch, in->channels, err));
    int64_t top = floor_div2((int64_t)in->height - ch), left = floor_div2((int64_t)in->width - cw);
    int64_t top_pad = in->height < ch ? (ch - in->height + 1) / 2 : 0;
    int64_t left_pad = in->width < cw ? (cw - in->width + 1) / 2 : 0;
    int64_t y0 = top + top_pad < 0 ? 0 : top + top_pad, x0 = left + left_pad < 0 ? 0 : left + left_pad;
    size_t c = (size_t)in->channels;
    for (int y = 0; y < ch; y++) {
        int64_t sy = y0 + y - top_pad;
        if (sy < 0 || sy >= in->height)
            continue;
        for (int x = 0; x < cw; x++) {
            int64_t sx = x0 + x - left_pad;
            if (sx >= 0 && sx < in->width)
                memcpy(out->data + ((size_t)y * (size_t)cw + (size_t)x) * c,
                       in->data + ((size_t)sy * (size_t)in->width + (size_t)sx) * c, c);
        }
    }
    return CF_OK;
}

/* Resize (and for ConvNeXT crop) in uint8, as the processors do on the PIL image. */
static cf_status transform_pixels(const cf_image_processor *p, const cf_image *img, cf_image *out, cf_error *err)
{
    int64_t rh = img->height, rw = img->width;
    if (p->do_resize)
        resize_size(p, img->height, img->width, &rh, &rw);
    CF_TRY(cf_image_resize(img, (int)rw, (int)rh, p->resample, out, err));
    if (!convnext_crops(p))
        return CF_OK;
    cf_image resized = *out;
    cf_status st = center_crop(&resized, (int)p->shortest_edge, (int)p->shortest_edge, out, err);
    cf_image_free(&resized);
    return st;
}

/* Rescale in float64 then float32, normalize in float32: a function of the byte and the
 * channel only, so it is tabulated once per channel (same bits, no per-pixel arithmetic). */
static void value_table(const cf_image_processor *p, int c, float table[256])
{
    float mean = (float)p->mean[c], std = (float)p->std[c];
    for (int v = 0; v < 256; v++) {
        float x = p->do_rescale ? (float)((double)v * p->rescale_factor) : (float)v;
        table[v] = p->do_normalize ? (x - mean) / std : x;
    }
}

/* HWC uint8 -> CHW float, written into a [3, stride_h, stride_w] plane set. */
static void to_channels_first(const cf_image_processor *p, const cf_image *img, float *dst, int64_t stride_h,
                              int64_t stride_w)
{
    for (int c = 0; c < 3; c++) {
        float table[256];
        value_table(p, c, table);
        for (int y = 0; y < img->height; y++) {
            const uint8_t *src = img->data + (size_t)y * (size_t)img->width * 3 + (size_t)c;
            float *row = dst + ((size_t)c * (size_t)stride_h + (size_t)y) * (size_t)stride_w;
            for (int x = 0; x < img->width; x++)
                row[x] = table[src[(size_t)x * 3]];
        }
    }
}

/* ------------------------------------------------------------------ batches ---- */

void cf_pixel_values_free(cf_pixel_values *pv)
{
    if (!pv)
        return;
    free(pv->values);
    free(pv->mask);
    free(pv->sizes);
    memset(pv, 0, sizeof *pv);
}

/* Sizes of every image after processing, and the batch tensor size (their maximum). */
static cf_status batch_sizes(const cf_image_processor *p, const cf_image *const *images, size_t n,
                             cf_pixel_values *out, cf_error *err)
{
    out->sizes = calloc(n, sizeof *out->sizes);
    if (!out->sizes)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for %zu image sizes", n);
    for (size_t i = 0; i < n; i++) {
        const cf_image *img = images[i];
        if (!img || !img->data || img->channels != 3)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: image %zu is not an RGB image (%d channels)", p->name, i,
                           img ? img->channels : 0);
        cf_image_sizes *s = &out->sizes[i];
        s->orig_height = img->height;
        s->orig_width = img->width;
        if (cf_image_processor_output_size(p, img->height, img->width, &s->height, &s->width, err) != CF_OK)
            return cf_error_prefix(err, "image %zu: ", i);
        if (i > 0 && !p->do_pad && (s->height != out->height || s->width != out->width))
            return cf_fail(err, CF_ERR_SHAPE, "%s does not pad, but image %zu comes out %lldx%lld and image 0 "
                           "%lldx%lld (width x height); run them one at a time", p->name, i, (long long)s->width,
                           (long long)s->height, (long long)out->width, (long long)out->height);
        out->height = s->height > out->height ? s->height : out->height;
        out->width = s->width > out->width ? s->width : out->width;
    }
    return CF_OK;
}

static cf_status batch_alloc(const cf_image_processor *p, cf_pixel_values *out, cf_error *err)
{
    size_t plane = (size_t)out->height * (size_t)out->width;
    out->values = calloc(out->n * 3 * plane, sizeof *out->values); /* padding is 0 after normalization */
    if (p->do_pad)
        out->mask = calloc(out->n * plane, 1);
    if (!out->values || (p->do_pad && !out->mask))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for pixel_values [%zu,3,%lld,%lld]", out->n,
                       (long long)out->height, (long long)out->width);
    return CF_OK;
}

static cf_status batch_fill(const cf_image_processor *p, const cf_image *const *images, cf_pixel_values *out,
                            cf_error *err)
{
    size_t plane = (size_t)out->height * (size_t)out->width;
    for (size_t i = 0; i < out->n; i++) {
        cf_image px;
        if (transform_pixels(p, images[i], &px, err) != CF_OK)
            return cf_error_prefix(err, "image %zu: ", i);
        to_channels_first(p, &px, out->values + i * 3 * plane, out->height, out->width);
        if (out->mask)
            for (int y = 0; y < px.height; y++)
                memset(out->mask + i * plane + (size_t)y * (size_t)out->width, 1, (size_t)px.width);
        cf_image_free(&px);
    }
    return CF_OK;
}

cf_status cf_image_processor_run(const cf_image_processor *p, const cf_image *const *images, size_t n,
                                 cf_pixel_values *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: no images to preprocess", p->name);
    out->n = n;
    cf_status st = batch_sizes(p, images, n, out, err);
    if (st == CF_OK)
        st = batch_alloc(p, out, err);
    if (st == CF_OK)
        st = batch_fill(p, images, out, err);
    if (st != CF_OK)
        cf_pixel_values_free(out);
    return st;
}

cf_status cf_image_preprocess(const cf_config *cfg, const cf_image *img, float **pixel_values, int64_t *h, int64_t *w,
                              uint8_t **pixel_mask, cf_error *err)
{
    *pixel_values = NULL;
    if (pixel_mask)
        *pixel_mask = NULL;
    cf_image_processor p;
    CF_TRY(cf_image_processor_init(&p, cfg, err));
    cf_pixel_values pv;
    CF_TRY(cf_image_processor_run(&p, &img, 1, &pv, err));
    *pixel_values = pv.values;
    *h = pv.height;
    *w = pv.width;
    if (pixel_mask)
        *pixel_mask = pv.mask;
    else
        free(pv.mask);
    free(pv.sizes);
    return CF_OK;
}
