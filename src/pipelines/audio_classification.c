/* audio-classification, as transformers 4.35.2 AudioClassificationPipeline: the clip decoded at
 * the feature extractor's rate, input_values of the whole clip, one forward of
 * Wav2Vec2ForSequenceClassification, softmax, the top_k labels (default 5, at most num_labels). */
#include <stdlib.h>
#include <string.h>

#include "media/features.h"
#include "models/wav2vec2.h"
#include "pipelines/audio_common.h"
#include "pipelines/text_common.h"

typedef struct ac_state {
    cf_wav2vec2 *model;
    cf_wav2vec2_features fe;
} ac_state;

static void ac_close(cf_pipeline *p)
{
    ac_state *s = p->state;
    if (!s)
        return;
    cf_wav2vec2_free(s->model);
    free(s);
    p->state = NULL;
}

static cf_status ac_open(cf_pipeline *p, cf_error *err)
{
    if (!cf_wav2vec2_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: audio-classification supports wav2vec2 models (model_type "
                       "\"%s\")", p->config.path, cf_config_str(&p->config, "model_type", "?"));
    if (cf_wav2vec2_head_from_config(&p->config) != CF_WAV2VEC2_CLASSIFICATION)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: audio-classification needs a "
                       "Wav2Vec2ForSequenceClassification model; \"architectures\" names another head",
                       p->config.path);
    ac_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    p->state = s;
    cf_config pre;
    CF_TRY(cf_config_load_optional(&pre, p->model_dir, "preprocessor_config.json", err));
    cf_status st = cf_wav2vec2_features_init(&s->fe, &pre, err);
    cf_config_free(&pre);
    CF_TRY(st);
    return cf_wav2vec2_load(p->model_dir, &p->config, CF_WAV2VEC2_CLASSIFICATION, &s->model, err);
}

/* Indices by score, descending; ties keep the lower index first. */
static void rank(const float *scores, int64_t *idx, int64_t n)
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

static cf_status top_labels(const cf_pipeline *p, const float *logits, int64_t n, int64_t top_k, cJSON **out,
                            cf_error *err)
{
    float *scores = malloc((size_t)n * sizeof *scores);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!scores || !idx) {
        free(scores);
        free(idx);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    cf_softmax_f32(logits, scores, n);
    rank(scores, idx, n);
    *out = cJSON_CreateArray();
    for (int64_t i = 0; i < (top_k < n ? top_k : n); i++) {
        char buf[64];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "score", cf_json_score(scores[idx[i]]));
        cJSON_AddStringToObject(o, "label", cf_config_label(&p->config, idx[i], buf, sizeof buf));
        cJSON_AddItemToArray(*out, o);
    }
    free(scores);
    free(idx);
    return CF_OK;
}

static cf_status ac_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    static const char *const allowed[] = {"top_k", NULL};
    CF_TRY(cf_params_check(params, "audio-classification", allowed, err));
    int64_t top_k;
    CF_TRY(cf_param_int(params, "top_k", 5, 1, &top_k, err));
    ac_state *s = p->state;
    float *pcm = NULL, *values = NULL;
    int32_t *mask = NULL;
    size_t n = 0, len = 0;
    cf_status st = cf_audio_input(inputs, s->fe.sampling_rate, &pcm, &n, err);
    if (st == CF_OK)
        st = cf_wav2vec2_batch(&s->fe, (const float *const *)&pcm, &n, 1, &values, &mask, &len, err);
    cf_wav2vec2_output o;
    if (st == CF_OK)
        st = cf_wav2vec2_forward(s->model, values, (int64_t)len, NULL, NULL, &o, err);
    if (st == CF_OK)
        st = top_labels(p, o.logits, o.cols, top_k, out, err);
    free(pcm);
    free(values);
    free(mask);
    return st;
}

const cf_task cf_task_audio_classification = {
    .name = "audio-classification",
    .default_model = "superb/wav2vec2-base-superb-ks",
    .open = ac_open,
    .run = ac_run,
    .close = ac_close,
};
