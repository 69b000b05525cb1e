/* text-classification / sentiment-analysis, as transformers 4.35.2 TextClassificationPipeline:
 * one forward per text, scores by function_to_apply (default from problem_type/num_labels),
 * top_k (absent: the best label, legacy shape; null: all, sorted). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipelines/text_common.h"

typedef enum { APPLY_SOFTMAX, APPLY_SIGMOID, APPLY_NONE } score_fn;

typedef struct tc_params {
    cf_text_model *tm;
    bool legacy;   /* top_k not given: one {"label","score"} dict */
    bool all;      /* top_k null: every label */
    int64_t top_k;
    score_fn fn;
    cf_encode_options opt;
} tc_params;

static const char *const k_params[] = {"top_k", "function_to_apply", "return_all_scores", "truncation",
                                       "max_length", "padding", "add_special_tokens", NULL};

static score_fn default_fn(const cf_config *cfg)
{
    const char *problem = cf_config_str(cfg, "problem_type", "");
    int64_t n = cf_config_num_labels(cfg);
    if (!strcmp(problem, "multi_label_classification") || n == 1)
        return APPLY_SIGMOID;
    if (!strcmp(problem, "single_label_classification") || n > 1)
        return APPLY_SOFTMAX;
    const char *fn = cf_config_str(cfg, "function_to_apply", "none");
    return !strcasecmp(fn, "softmax") ? APPLY_SOFTMAX : !strcasecmp(fn, "sigmoid") ? APPLY_SIGMOID : APPLY_NONE;
}

static cf_status parse_params(const cf_text_model *tm, const cJSON *params, tc_params *tp, cf_error *err)
{
    CF_TRY(cf_params_check(params, "text-classification", k_params, err));
    *tp = (tc_params){.legacy = true, .top_k = 1, .fn = default_fn(tm->config), .opt = cf_encode_options_default()};
    const cJSON *k = cf_param(params, "top_k");
    if (k) {
        tp->legacy = false;
        if (cJSON_IsNull(k))
            tp->all = true;
        else
            CF_TRY(cf_param_int(params, "top_k", 1, 1, &tp->top_k, err));
    } else {
        bool all_scores = false;
        CF_TRY(cf_param_bool(params, "return_all_scores", false, &all_scores, err));
        tp->all = all_scores; /* legacy: every label, unsorted */
    }
    const char *fn = NULL;
    CF_TRY(cf_param_str(params, "function_to_apply", NULL, &fn, err));
    if (fn) {
        if (!strcasecmp(fn, "softmax"))
            tp->fn = APPLY_SOFTMAX;
        else if (!strcasecmp(fn, "sigmoid"))
            tp->fn = APPLY_SIGMOID;
        else if (!strcasecmp(fn, "none"))
            tp->fn = APPLY_NONE;
        else
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "parameter 'function_to_apply' must be \"softmax\", \"sigmoid\" or \"none\" (got \"%s\")", fn);
    }
    return cf_text_tokenizer_kwargs(tm, params, &tp->opt, err);
}

static cJSON *label_score(const cf_text_model *tm, int64_t i, float score)
{
    char buf[64];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", cf_text_label(tm, i, buf, sizeof buf));
    cJSON_AddItemToObject(o, "score", cf_json_score(score));
    return o;
}

/* Indices sorted by score, descending, equal scores keeping label order (Python's stable sort). */
static void sort_desc(const float *scores, int64_t *idx, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = 1; i < n; i++) {
        int64_t v = idx[i], j = i;
        while (j > 0 && scores[idx[j - 1]] < scores[v]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static cf_status postprocess(const cf_text_model *tm, const tc_params *tp, const float *logits, int64_t n,
                             cJSON **out, cf_error *err)
{
    float *scores = malloc((size_t)n * sizeof(float));
    int64_t *idx = malloc((size_t)n * sizeof(int64_t));
    if (!scores || !idx) {
        free(scores);
        free(idx);
        return cf_fail(err, CF_ERR_NOMEM, "text-classification: out of memory");
    }
    if (tp->fn == APPLY_SOFTMAX)
        cf_softmax_f32(logits, scores, n);
    else if (tp->fn == APPLY_SIGMOID)
        cf_sigmoid_f32(logits, scores, n);
    else
        memcpy(scores, logits, (size_t)n * sizeof(float));
    if (tp->legacy && !tp->all) {
        int64_t best = cf_argmax_f32(scores, n);
        *out = label_score(tm, best, scores[best]);
    } else {
        *out = cJSON_CreateArray();
        if (tp->legacy) {
            for (int64_t i = 0; i < n; i++)
                cJSON_AddItemToArray(*out, label_score(tm, i, scores[i]));
        } else {
            sort_desc(scores, idx, n);
            int64_t k = tp->all || tp->top_k > n ? n : tp->top_k;
            for (int64_t i = 0; i < k; i++)
                cJSON_AddItemToArray(*out, label_score(tm, idx[i], scores[idx[i]]));
        }
    }
    free(scores);
    free(idx);
    return CF_OK;
}

/* One input: a text, {"text", "text_pair"}, or the old [[text, pair]] form. */
static cf_status classify(cf_text_model *tm, const tc_params *tp, const char *text, const char *pair, cJSON **out,
                          cf_error *err)
{
    cf_encoding enc = {0};
    cf_status s = pair ? cf_tokenizer_encode_pair(tm->tok, text, pair, &tp->opt, &enc, err)
                       : cf_tokenizer_encode(tm->tok, text, &tp->opt, &enc, err);
    cf_encoder_output o;
    if (s == CF_OK)
        s = cf_text_model_forward(tm, &enc, NULL, 0, &o, err);
    if (s == CF_OK)
        s = postprocess(tm, tp, o.logits, o.logits_cols, out, err);
    cf_encoding_free(&enc);
    return s;
}

static cf_status pair_input(const cJSON *v, const char **text, const char **pair, cf_error *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "text"), *p = cJSON_GetObjectItemCaseSensitive(v, "text_pair");
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (strcmp(item->string, "text") && strcmp(item->string, "text_pair"))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "text-classification: unknown input key '%s' (expected \"text\" and \"text_pair\")",
                           item->string);
    }
    CF_TRY(cf_text_input_string(t, "text-classification: inputs.text", text, err));
    *pair = NULL;
    if (p && !cJSON_IsNull(p))
        CF_TRY(cf_text_input_string(p, "text-classification: inputs.text_pair", pair, err));
    return CF_OK;
}

/* One item of a list: a text or {"text", "text_pair"}. */
static cf_status classify_item(void *ctx, const cJSON *item, cJSON **out, cf_error *err)
{
    const tc_params *tp = ctx;
    const char *text = NULL, *pair = NULL;
    if (cJSON_IsObject(item))
        CF_TRY(pair_input(item, &text, &pair, err));
    else
        CF_TRY(cf_text_input_string(item, "text-classification: each item of inputs", &text, err));
    return classify(tp->tm, tp, text, pair, out, err);
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    cf_text_model *tm = p->state;
    tc_params tp;
    CF_TRY(parse_params(tm, params, &tp, err));
    tp.tm = tm;
    const char *text = NULL, *pair = NULL;
    if (cJSON_IsString(inputs)) {
        CF_TRY(classify(tm, &tp, inputs->valuestring, NULL, out, err));
        if (tp.legacy) { /* the Python pipeline wraps a single text's result in a list */
            cJSON *list = cJSON_CreateArray();
            cJSON_AddItemToArray(list, *out);
            *out = list;
        }
        return CF_OK;
    }
    if (!cJSON_IsArray(inputs) && !cJSON_IsObject(inputs))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "text-classification: inputs must be a string, a list of strings or {\"text\", \"text_pair\"}");
    const cJSON *first = inputs->child;
    if (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) == 1 && cJSON_IsArray(first) &&
        cJSON_GetArraySize(first) == 2) {
        CF_TRY(cf_text_input_string(first->child, "text-classification: inputs[0][0]", &text, err));
        CF_TRY(cf_text_input_string(first->child->next, "text-classification: inputs[0][1]", &pair, err));
        return classify(tm, &tp, text, pair, out, err);
    }
    return cf_map_inputs(inputs, "text-classification", classify_item, &tp, out, err);
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_SEQUENCE_CLASSIFICATION, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

static const char *const k_aliases[] = {"sentiment-analysis", NULL};

const cf_task cf_task_text_classification = {
    .name = "text-classification",
    .aliases = k_aliases,
    .default_model = "distilbert-base-uncased-finetuned-sst-2-english",
    .open = open_task,
    .run = run,
    .close = close_task,
};
