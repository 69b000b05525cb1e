/* object-detection, as transformers 4.35.2 ObjectDetectionPipeline with DETR: per query the best
 * class (softmax without "no object"), kept when its score > threshold (default 0.9), box from
 * (cx, cy, w, h) to corners scaled to the original image, coordinates truncated to int as
 * Python's box.int() does. */
#include <math.h>
#include <stdlib.h>

#include "models/detr.h"
#include "pipelines/vision_common.h"

typedef struct od_state {
    cf_image_processor proc;
    cf_detr *model;
} od_state;

static void od_close(cf_pipeline *p)
{
    od_state *s = p->state;
    if (!s)
        return;
    cf_detr_free(s->model);
    free(s);
    p->state = NULL;
}

static cf_status od_open(cf_pipeline *p, cf_error *err)
{
    if (!cf_detr_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "object-detection: model_type '%s' is not supported (detr)",
                       cf_config_str(&p->config, "model_type", "?"));
    od_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "object-detection: cannot allocate");
    p->state = s;
    cf_status st = cf_vision_processor_open(p, &s->proc, err);
    if (st == CF_OK)
        st = cf_detr_load(p->model_dir, &p->config, &s->model, err);
    if (st != CF_OK)
        od_close(p);
    return st;
}

/* Best class (without the last, "no object") and its softmax probability, in float32. */
static void best_class(const float *logits, int64_t n, float *score, int64_t *label)
{
    float mx = logits[0];
    for (int64_t i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += expf(logits[i] - mx);
    *label = 0;
    for (int64_t i = 1; i < n - 1; i++)
        if (logits[i] > logits[*label])
            *label = i;
    *score = expf(logits[*label] - mx) / sum;
}

static cJSON *box_json(const float *cxcywh, int64_t img_h, int64_t img_w)
{
    float cx = cxcywh[0], cy = cxcywh[1], w = cxcywh[2], h = cxcywh[3];
    float corners[4] = {(cx - 0.5f * w) * (float)img_w, (cy - 0.5f * h) * (float)img_h, (cx + 0.5f * w) * (float)img_w,
                        (cy + 0.5f * h) * (float)img_h};
    static const char *const keys[4] = {"xmin", "ymin", "xmax", "ymax"};
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < 4; i++)
        cJSON_AddNumberToObject(o, keys[i], (double)(int32_t)corners[i]);
    return o;
}

static cf_status detect(cf_pipeline *p, const cf_image *img, const cJSON *params, cJSON **out, cf_error *err)
{
    od_state *s = p->state;
    double threshold;
    CF_TRY(cf_param_float(params, "threshold", 0.9, &threshold, err));
    cf_pixel_values pv = {0};
    CF_TRY(cf_vision_preprocess(&s->proc, img, &pv, err));
    int64_t q = cf_detr_num_queries(s->model), c = cf_detr_num_logits(s->model);
    cf_detr_output o = {.logits = malloc((size_t)(q * c) * sizeof(float)),
                        .boxes = malloc((size_t)(q * 4) * sizeof(float))};
    cf_status st = o.logits && o.boxes ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "object-detection: out of memory");
    if (st == CF_OK)
        st = cf_detr_forward(s->model, pv.values, pv.mask, 1, pv.height, pv.width, NULL, &o, err);
    if (st == CF_OK) {
        *out = cJSON_CreateArray();
        for (int64_t i = 0; i < q; i++) {
            float score;
            int64_t label;
            best_class(o.logits + i * c, c, &score, &label);
            if (!(score > (float)threshold))
                continue;
            char buf[64];
            cJSON *d = cJSON_CreateObject();
            cJSON_AddItemToObject(d, "score", cf_json_score(score));
            cJSON_AddStringToObject(d, "label", cf_vision_label(p, label, buf, sizeof buf));
            cJSON_AddItemToObject(d, "box", box_json(o.boxes + i * 4, pv.sizes[0].orig_height, pv.sizes[0].orig_width));
            cJSON_AddItemToArray(*out, d);
        }
    }
    free(o.logits);
    free(o.boxes);
    cf_pixel_values_free(&pv);
    return st;
}

static const char *const k_params[] = {"threshold", "timeout", NULL};

static cf_status od_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    CF_TRY(cf_params_check(params, "object-detection", k_params, err));
    return cf_vision_run_inputs(p, inputs, params, detect, out, err);
}

const cf_task cf_task_object_detection = {
    .name = "object-detection",
    .default_model = "facebook/detr-resnet-50",
    .open = od_open,
    .run = od_run,
    .close = od_close,
};
