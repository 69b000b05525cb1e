/* feature-extraction, as transformers 4.35.2 FeatureExtractionPipeline: the base model's
 * last_hidden_state of each text as nested lists [1, tokens, hidden]. */
#include <string.h>

#include "pipelines/text_common.h"

static const char *const k_params[] = {"truncation", "tokenize_kwargs", "return_tensors", NULL};

static cf_status parse_params(const cf_text_model *tm, const cJSON *params, cf_encode_options *opt, cf_error *err)
{
    CF_TRY(cf_params_check(params, "feature-extraction", k_params, err));
    *opt = cf_encode_options_default();
    bool tensors = false;
    CF_TRY(cf_param_bool(params, "return_tensors", false, &tensors, err)); /* same numbers either way */
    const cJSON *kw = cf_param(params, "tokenize_kwargs");
    if (kw && !cJSON_IsNull(kw)) {
        if (!cJSON_IsObject(kw))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'tokenize_kwargs' must be an object");
        CF_TRY(cf_params_check(kw, "feature-extraction tokenize_kwargs", cf_text_tokenizer_kwarg_names, err));
        if (cf_param(kw, "truncation") && cf_param(params, "truncation"))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "truncation parameter defined twice (given as keyword argument as well as in tokenize_kwargs)");
        CF_TRY(cf_text_tokenizer_kwargs(tm, kw, opt, err));
    }
    const cJSON *t = cf_param(params, "truncation");
    if (t && !cJSON_IsNull(t)) {
        cJSON *only = cJSON_CreateObject();
        cJSON_AddItemToObject(only, "truncation", cJSON_Duplicate(t, true));
        cf_status s = cf_text_tokenizer_kwargs(tm, only, opt, err);
        cJSON_Delete(only);
        CF_TRY(s);
    }
    return CF_OK;
}

static cJSON *hidden_states_json(const float *h, int64_t rows, int64_t dim)
{
    cJSON *tokens = cJSON_CreateArray();
    for (int64_t i = 0; i < rows; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int64_t j = 0; j < dim; j++)
            cJSON_AddItemToArray(row, cf_json_score(h[i * dim + j]));
        cJSON_AddItemToArray(tokens, row);
    }
    cJSON *batch = cJSON_CreateArray();
    cJSON_AddItemToArray(batch, tokens);
    return batch;
}

typedef struct fe_call {
    cf_text_model *tm;
    cf_encode_options opt;
} fe_call;

static cf_status extract(void *ctx, const char *text, cJSON **out, cf_error *err)
{
    const fe_call *call = ctx;
    cf_text_model *tm = call->tm;
    const cf_encode_options *opt = &call->opt;
    cf_encoding enc = {0};
    cf_status s = cf_tokenizer_encode(tm->tok, text, opt, &enc, err);
    cf_encoder_output o;
    if (s == CF_OK)
        s = cf_text_model_forward(tm, &enc, NULL, 0, &o, err);
    if (s == CF_OK)
        *out = hidden_states_json(o.last_hidden_state, (int64_t)enc.n, cf_encoder_hidden_size(tm->enc));
    cf_encoding_free(&enc);
    return s;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    fe_call call = {.tm = p->state};
    CF_TRY(parse_params(call.tm, params, &call.opt, err));
    return cf_map_text_inputs(inputs, "feature-extraction", extract, &call, out, err);
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_BASE, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

const cf_task cf_task_feature_extraction = {
    .name = "feature-extraction",
    .default_model = "distilbert-base-cased",
    .open = open_task,
    .run = run,
    .close = close_task,
};
