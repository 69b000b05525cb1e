/* Shared pieces of the vision models and the image-classifier front over ViT and ConvNeXT. */
#include "models/vision.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cf_vision_emit(const cf_vision_tap *tap, const char *name, const float *data, int64_t n, int64_t rows,
                    int64_t cols)
{
    if (!tap || !tap->fn)
        return;
    cf_vision_tensor t = {.name = name, .data = data, .n = n, .rows = rows, .cols = cols};
    tap->fn(tap->ctx, &t);
}

void cf_vision_emit_map(const cf_vision_tap *tap, const char *name, const float *data, int64_t n, int64_t h,
                        int64_t w, int64_t c)
{
    if (!tap || !tap->fn)
        return;
    cf_vision_tensor t = {.name = name, .data = data, .n = n, .rows = h * w, .cols = c, .is_map = true, .h = h,
                          .w = w};
    tap->fn(tap->ctx, &t);
}

cf_status cf_vision_arena_reserve(cf_arena *a, size_t bytes, cf_error *err)
{
    if (a->base && a->size >= bytes)
        return CF_OK;
    cf_arena_free(a);
    return cf_arena_init(a, bytes, err);
}

size_t cf_vision_floats_bytes(int64_t count)
{
    size_t b = (size_t)(count > 0 ? count : 0) * sizeof(float);
    return (b + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

cf_status cf_vision_check_input(const char *model, int64_t n, int64_t channels, int64_t h, int64_t w,
                                int64_t want_channels, int64_t min_side, cf_error *err)
{
    if (n <= 0 || n > 4096)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: batch size %lld is out of range (1..4096)", model,
                       (long long)n);
    if (channels != want_channels)
        return cf_fail(err, CF_ERR_SHAPE, "%s: pixel_values have %lld channels, the model takes %lld", model,
                       (long long)channels, (long long)want_channels);
    if (h < min_side || w < min_side || h > 16384 || w > 16384)
        return cf_fail(err, CF_ERR_SHAPE, "%s: image of %lldx%lld pixels is out of range (each side %lld..16384)",
                       model, (long long)h, (long long)w, (long long)min_side);
    return CF_OK;
}

cf_status cf_vision_config_ints(const cf_config *cfg, const char *key, size_t n, int64_t lo, int64_t hi,
                                int64_t *out, cf_error *err)
{
    int64_t *vals = NULL;
    size_t count = 0;
    CF_TRY(cf_config_int_array(cfg, key, &vals, &count, err));
    cf_status s = CF_OK;
    if (count != n)
        s = cf_fail(err, CF_ERR_FORMAT, "%s: %s has %zu entries, expected %zu", cfg->path, key, count, n);
    for (size_t i = 0; s == CF_OK && i < n; i++) {
        if (vals[i] < lo || vals[i] > hi)
            s = cf_fail(err, CF_ERR_FORMAT, "%s: %s[%zu] = %lld is out of range (%lld..%lld)", cfg->path, key, i,
                        (long long)vals[i], (long long)lo, (long long)hi);
        out[i] = vals[i];
    }
    free(vals);
    return s;
}

const char *cf_vision_name(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return buf;
}

/* ---------------------------------------------------------------- image classification ---- */

struct cf_image_classifier {
    cf_safetensors *st;
    cf_vit *vit;
    cf_convnext *convnext;
};

bool cf_image_classifier_supports(const cf_config *config)
{
    const char *type = cf_config_str(config, "model_type", "");
    return !strcmp(type, "vit") || !strcmp(type, "convnext");
}

cf_status cf_image_classifier_load(const char *dir, const cf_config *config, cf_image_classifier **out,
                                   cf_error *err)
{
    *out = NULL;
    const char *type = cf_config_str(config, "model_type", "");
    if (!cf_image_classifier_supports(config))
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "%s: model_type '%s' is not an image classifier cformer runs (vit, convnext)", config->path,
                       type);
    cf_image_classifier *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate an image classifier");
    cf_status s = cf_st_open_dir(dir, &m->st, err);
    if (s == CF_OK)
        s = !strcmp(type, "vit") ? cf_vit_load(m->st, config, &m->vit, err)
                                 : cf_convnext_load(m->st, config, &m->convnext, err);
    if (s != CF_OK) {
        cf_image_classifier_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

void cf_image_classifier_free(cf_image_classifier *m)
{
    if (!m)
        return;
    cf_vit_free(m->vit);
    cf_convnext_free(m->convnext);
    cf_st_close(m->st);
    free(m);
}

int64_t cf_image_classifier_num_labels(const cf_image_classifier *m)
{
    return m->vit ? cf_vit_num_labels(m->vit) : cf_convnext_num_labels(m->convnext);
}

cf_status cf_image_classifier_forward(cf_image_classifier *m, const float *pixel_values, int64_t n, int64_t h,
                                      int64_t w, const cf_vision_tap *tap, float *logits, cf_error *err)
{
    if (m->vit)
        return cf_vit_forward(m->vit, pixel_values, n, h, w, tap, logits, err);
    return cf_convnext_forward(m->convnext, pixel_values, n, h, w, tap, logits, err);
}
