/* image-segmentation, as transformers 4.35.2 ImageSegmentationPipeline with DetrForSegmentation:
 * subtask "panoptic" (the default) or "instance" give one {"score", "label", "mask"} per segment,
 * "semantic" one per class present (score null); masks are mode-L PNGs (0/255) of the original
 * image's size, base64-encoded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/detr.h"
#include "pipelines/segmentation_post.h"
#include "pipelines/vision_common.h"

typedef struct seg_state {
    cf_image_processor proc;
    cf_detr *model;
} seg_state;

static void seg_close(cf_pipeline *p)
{
    seg_state *s = p->state;
    if (!s)
        return;
    cf_detr_free(s->model);
    free(s);
    p->state = NULL;
}

static cf_status seg_open(cf_pipeline *p, cf_error *err)
{
    if (!cf_detr_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "image-segmentation: model_type '%s' is not supported (detr)",
                       cf_config_str(&p->config, "model_type", "?"));
    seg_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "image-segmentation: cannot allocate");
    p->state = s;
    cf_status st = cf_vision_processor_open(p, &s->proc, err);
    if (st == CF_OK)
        st = cf_detr_load(p->model_dir, &p->config, &s->model, err);
    if (st == CF_OK && !cf_detr_has_masks(s->model))
        st = cf_fail(err, CF_ERR_UNSUPPORTED, "image-segmentation: %s has no mask head (DetrForSegmentation needed)",
                     p->model_dir);
    if (st != CF_OK)
        seg_close(p);
    return st;
}

typedef enum { SUB_PANOPTIC, SUB_INSTANCE, SUB_SEMANTIC } subtask;

typedef struct seg_params {
    subtask sub;
    cf_seg_options opt;
} seg_params;

static cf_status parse_params(const cJSON *params, seg_params *sp, cf_error *err)
{
    const char *sub;
    double thr, mask_thr, overlap;
    CF_TRY(cf_param_str(params, "subtask", "panoptic", &sub, err));
    if (!strcmp(sub, "panoptic"))
        sp->sub = SUB_PANOPTIC;
    else if (!strcmp(sub, "instance"))
        sp->sub = SUB_INSTANCE;
    else if (!strcmp(sub, "semantic"))
        sp->sub = SUB_SEMANTIC;
    else
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "parameter 'subtask' \"%s\" is not supported (panoptic, instance, semantic)", sub);
    CF_TRY(cf_param_float(params, "threshold", 0.9, &thr, err));
    CF_TRY(cf_param_float(params, "mask_threshold", 0.5, &mask_thr, err));
    CF_TRY(cf_param_float(params, "overlap_mask_area_threshold", 0.5, &overlap, err));
    sp->opt = (cf_seg_options){.threshold = (float)thr, .mask_threshold = (float)mask_thr,
                               .overlap_mask_area_threshold = (float)overlap};
    return CF_OK;
}

/* {"score", "label", "mask"} with mask = (map == value) * 255. */
static cf_status add_segment(cJSON *list, cJSON *score, const char *label, const void *map, bool wide, int64_t value,
                             int64_t h, int64_t w, cf_error *err)
{
    cf_image mask = {0};
    cf_status st = cf_image_alloc(&mask, (int)w, (int)h, 1, err);
    for (int64_t p = 0; st == CF_OK && p < h * w; p++) {
        int64_t v = wide ? ((const int64_t *)map)[p] : ((const int32_t *)map)[p];
        mask.data[p] = v == value ? 255 : 0;
    }
    cJSON *png = NULL;
    if (st == CF_OK)
        st = cf_vision_png_json(&mask, &png, err);
    cf_image_free(&mask);
    if (st != CF_OK) {
        cJSON_Delete(score);
        return st;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "score", score);
    cJSON_AddStringToObject(o, "label", label);
    cJSON_AddItemToObject(o, "mask", png);
    cJSON_AddItemToArray(list, o);
    return CF_OK;
}

static cf_status postprocess(cf_pipeline *p, const seg_params *sp, const cf_seg_queries *q, int64_t h, int64_t w,
                             cJSON **out, cf_error *err)
{
    *out = cJSON_CreateArray();
    char buf[64];
    cf_status st = CF_OK;
    if (sp->sub == SUB_SEMANTIC) {
        int64_t *labels = malloc((size_t)(h * w) * sizeof(int64_t));
        bool *present = calloc((size_t)q->n_logits, sizeof(bool));
        st = labels && present ? cf_seg_semantic(q, h, w, labels, err)
                               : cf_fail(err, CF_ERR_NOMEM, "image-segmentation: out of memory");
        for (int64_t i = 0; st == CF_OK && i < h * w; i++)
            present[labels[i]] = true;
        for (int64_t c = 0; st == CF_OK && c < q->n_logits; c++) /* np.unique: ascending */
            if (present[c])
                st = add_segment(*out, cJSON_CreateNull(), cf_vision_label(p, c, buf, sizeof buf), labels, true, c, h,
                                 w, err);
        free(labels);
        free(present);
        return st;
    }
    int32_t *map = malloc((size_t)(h * w) * sizeof(int32_t));
    cf_segment *segs = NULL;
    size_t n = 0;
    st = map ? cf_seg_panoptic(q, &sp->opt, h, w, map, &segs, &n, err)
             : cf_fail(err, CF_ERR_NOMEM, "image-segmentation: out of memory");
    for (size_t i = 0; st == CF_OK && i < n; i++)
        st = add_segment(*out, cf_json_round6(segs[i].score), cf_vision_label(p, segs[i].label_id, buf, sizeof buf),
                         map, false, segs[i].id, h, w, err);
    free(map);
    free(segs);
    return st;
}

static cf_status segment(cf_pipeline *p, const cf_image *img, const cJSON *params, cJSON **out, cf_error *err)
{
    seg_state *s = p->state;
    seg_params sp;
    CF_TRY(parse_params(params, &sp, err));
    cf_pixel_values pv = {0};
    CF_TRY(cf_vision_preprocess(&s->proc, img, &pv, err));
    int64_t q = cf_detr_num_queries(s->model), c = cf_detr_num_logits(s->model), mh = 0, mw = 0;
    cf_status st = cf_detr_mask_size(s->model, pv.height, pv.width, &mh, &mw)
                       ? CF_OK
                       : cf_fail(err, CF_ERR_SHAPE, "image-segmentation: image too small");
    cf_detr_output o = {.logits = malloc((size_t)(q * c) * sizeof(float)),
                        .boxes = malloc((size_t)(q * 4) * sizeof(float)),
                        .masks = malloc((size_t)(q * (mh > 0 ? mh * mw : 1)) * sizeof(float))};
    if (st == CF_OK && (!o.logits || !o.boxes || !o.masks))
        st = cf_fail(err, CF_ERR_NOMEM, "image-segmentation: out of memory");
    if (st == CF_OK)
        st = cf_detr_forward(s->model, pv.values, pv.mask, 1, pv.height, pv.width, NULL, &o, err);
    if (st == CF_OK) {
        for (int64_t i = 0; i < q * mh * mw; i++)
            o.masks[i] = 1.0f / (1.0f + expf(-o.masks[i]));
        cf_seg_queries sq = {.n_queries = q, .n_logits = c, .class_logits = o.logits, .mask_probs = o.masks,
                             .h = mh, .w = mw};
        st = postprocess(p, &sp, &sq, pv.sizes[0].orig_height, pv.sizes[0].orig_width, out, err);
    }
    free(o.logits);
    free(o.boxes);
    free(o.masks);
    cf_pixel_values_free(&pv);
    return st;
}

static const char *const k_params[] = {"subtask", "threshold", "mask_threshold", "overlap_mask_area_threshold",
                                       "timeout", NULL};

static cf_status seg_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    CF_TRY(cf_params_check(params, "image-segmentation", k_params, err));
    return cf_vision_run_inputs(p, inputs, params, segment, out, err);
}

const cf_task cf_task_image_segmentation = {
    .name = "image-segmentation",
    .default_model = "facebook/detr-resnet-50-panoptic",
    .open = seg_open,
    .run = seg_run,
    .close = seg_close,
};
