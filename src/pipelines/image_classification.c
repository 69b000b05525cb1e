/* image-classification, as transformers 4.35.2 ImageClassificationPipeline: softmax over the
 * logits, the top_k (default 5, at most num_labels) labels by score. ViT and ConvNeXT. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/vision.h"
#include "pipelines/vision_common.h"

typedef struct ic_state {
    cf_image_processor proc;
    cf_image_classifier *model;
} ic_state;

static void ic_close(cf_pipeline *p)
{
    ic_state *s = p->state;
    if (!s)
        return;
    cf_image_classifier_free(s->model);
    free(s);
    p->state = NULL;
}

static cf_status ic_open(cf_pipeline *p, cf_error *err)
{
    ic_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "image-classification: cannot allocate");
    p->state = s;
    cf_status st = cf_vision_processor_open(p, &s->proc, err);
    if (st == CF_OK)
        st = cf_image_classifier_load(p->model_dir, &p->config, &s->model, err);
    if (st == CF_OK && cf_image_classifier_num_labels(s->model) < 1)
        st = cf_fail(err, CF_ERR_UNSUPPORTED, "image-classification: %s has no classifier head", p->model_dir);
    if (st != CF_OK)
        ic_close(p);
    return st;
}

/* Indices by score, descending; equal scores keep label order. */
static void sort_desc(const float *scores, int64_t *idx, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = 1; i < n; i++) {
        int64_t v = idx[i], j = i;
        for (; j > 0 && scores[idx[j - 1]] < scores[v]; j--)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

static cf_status classify(cf_pipeline *p, const cf_image *img, const cJSON *params, cJSON **out, cf_error *err)
{
    ic_state *s = p->state;
    int64_t top_k, n = cf_image_classifier_num_labels(s->model);
    CF_TRY(cf_param_int(params, "top_k", 5, 0, &top_k, err));
    if (top_k > n)
        top_k = n;
    cf_pixel_values pv = {0};
    CF_TRY(cf_vision_preprocess(&s->proc, img, &pv, err));
    float *probs = malloc((size_t)n * sizeof(float));
    int64_t *idx = malloc((size_t)n * sizeof(int64_t));
    cf_status st = probs && idx ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "image-classification: out of memory");
    if (st == CF_OK)
        st = cf_image_classifier_forward(s->model, pv.values, 1, pv.height, pv.width, NULL, probs, err);
    if (st == CF_OK) {
        cf_softmax_rows(probs, 1, n);
        sort_desc(probs, idx, n);
        *out = cJSON_CreateArray();
        for (int64_t i = 0; i < top_k; i++) {
            char buf[64];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToObject(o, "score", cf_json_score(probs[idx[i]]));
            cJSON_AddStringToObject(o, "label", cf_vision_label(p, idx[i], buf, sizeof buf));
            cJSON_AddItemToArray(*out, o);
        }
    }
    free(probs);
    free(idx);
    cf_pixel_values_free(&pv);
    return st;
}

static const char *const k_params[] = {"top_k", "timeout", NULL};

static cf_status ic_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    CF_TRY(cf_params_check(params, "image-classification", k_params, err));
    return cf_vision_run_inputs(p, inputs, params, classify, out, err);
}

const cf_task cf_task_image_classification = {
    .name = "image-classification",
    .default_model = "google/vit-base-patch16-224",
    .open = ic_open,
    .run = ic_run,
    .close = ic_close,
};
