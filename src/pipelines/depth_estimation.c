/* depth-estimation, as transformers 4.35.2 DepthEstimationPipeline with GLPN: "predicted_depth"
 * is the model's [1, h, w] output (a nested list here), "depth" the map resized bicubically to the
 * original image and scaled to 0..255 by its maximum (uint8 truncation), a mode-L PNG. */
#include <math.h>
#include <stdlib.h>

#include "models/vision.h"
#include "nn/conv_maps.h"
#include "pipelines/vision_common.h"

typedef struct de_state {
    cf_image_processor proc;
    cf_glpn *model;
} de_state;

static void de_close(cf_pipeline *p)
{
    de_state *s = p->state;
    if (!s)
        return;
    cf_glpn_free(s->model);
    free(s);
    p->state = NULL;
}

static cf_status de_open(cf_pipeline *p, cf_error *err)
{
    if (!cf_glpn_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "depth-estimation: model_type '%s' is not supported (glpn)",
                       cf_config_str(&p->config, "model_type", "?"));
    de_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "depth-estimation: cannot allocate");
    p->state = s;
    cf_status st = cf_vision_processor_open(p, &s->proc, err);
    if (st == CF_OK)
        st = cf_glpn_load(p->model_dir, &p->config, &s->model, err);
    if (st != CF_OK)
        de_close(p);
    return st;
}

/* [[row, ...]]: the [1, h, w] tensor as nested lists. */
static cJSON *depth_list(const float *depth, int64_t h, int64_t w)
{
    cJSON *outer = cJSON_CreateArray(), *rows = cJSON_CreateArray();
    for (int64_t y = 0; y < h; y++) {
        cJSON *row = cJSON_CreateArray();
        for (int64_t x = 0; x < w; x++)
            cJSON_AddItemToArray(row, cf_json_score(depth[y * w + x]));
        cJSON_AddItemToArray(rows, row);
    }
    cJSON_AddItemToArray(outer, rows);
    return outer;
}

/* (resized * 255 / max).astype(uint8) as numpy does on x86 (float -> int32 -> low byte). */
static cf_status depth_image(const float *depth, int64_t h, int64_t w, int64_t out_h, int64_t out_w, cf_image *img,
                             cf_error *err)
{
    float *big = malloc((size_t)(out_h * out_w) * sizeof(float));
    if (!big)
        return cf_fail(err, CF_ERR_NOMEM, "depth-estimation: cannot allocate a %lldx%lld map", (long long)out_w,
                       (long long)out_h);
    cf_interpolate(depth, h, w, 1, big, out_h, out_w, CF_INTERP_BICUBIC, 0, 0);
    float mx = big[0];
    for (int64_t i = 1; i < out_h * out_w; i++)
        mx = big[i] > mx ? big[i] : mx;
    cf_status st = cf_image_alloc(img, (int)out_w, (int)out_h, 1, err);
    for (int64_t i = 0; st == CF_OK && i < out_h * out_w; i++) {
        float v = big[i] * 255.0f / mx;
        img->data[i] = isfinite(v) && fabsf(v) < 2e9f ? (uint8_t)(int32_t)v : 0;
    }
    free(big);
    return st;
}

static cf_status estimate(cf_pipeline *p, const cf_image *img, const cJSON *params, cJSON **out, cf_error *err)
{
    de_state *s = p->state;
    cf_pixel_values pv = {0};
    CF_TRY(cf_vision_preprocess(&s->proc, img, &pv, err));
    float *depth = malloc((size_t)(pv.height * pv.width) * sizeof(float));
    cf_status st = depth ? cf_glpn_forward(s->model, pv.values, 1, pv.height, pv.width, NULL, depth, err)
                         : cf_fail(err, CF_ERR_NOMEM, "depth-estimation: out of memory");
    cf_image map = {0};
    cJSON *png = NULL;
    if (st == CF_OK)
        st = depth_image(depth, pv.height, pv.width, pv.sizes[0].orig_height, pv.sizes[0].orig_width, &map, err);
    if (st == CF_OK)
        st = cf_vision_png_json(&map, &png, err);
    if (st == CF_OK) {
        *out = cJSON_CreateObject();
        cJSON_AddItemToObject(*out, "predicted_depth", depth_list(depth, pv.height, pv.width));
        cJSON_AddItemToObject(*out, "depth", png);
    }
    cf_image_free(&map);
    free(depth);
    cf_pixel_values_free(&pv);
    return st;
}

static const char *const k_params[] = {"timeout", NULL};

static cf_status de_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    CF_TRY(cf_params_check(params, "depth-estimation", k_params, err));
    return cf_vision_run_inputs(p, inputs, params, estimate, out, err);
}

const cf_task cf_task_depth_estimation = {
    .name = "depth-estimation",
    .default_model = "vinvino02/glpn-kitti",
    .open = de_open,
    .run = de_run,
    .close = de_close,
};
