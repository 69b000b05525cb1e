/* fill-mask, as transformers 4.35.2 FillMaskPipeline: softmax of the masked-LM logits at every
 * mask position, top_k candidates (or the scores of `targets`), each with the sequence decoded
 * with the candidate in place (special tokens kept when there are several masks). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pipelines/text_common.h"

static const char *const k_params[] = {"top_k", "targets", "tokenizer_kwargs", NULL};

typedef struct fm_params {
    cf_text_model *tm;
    int64_t top_k;
    int64_t *targets; /* NULL: the whole vocabulary */
    size_t n_targets;
    cf_encode_options opt;
} fm_params;

static cf_status add_target(const cf_text_model *tm, fm_params *fp, const char *target, cf_error *err)
{
    int64_t id = cf_tokenizer_token_to_id(tm->tok, target);
    if (id < 0) { /* not a vocabulary entry: its first piece stands in, as the Python pipeline does */
        cf_encode_options opt = cf_encode_options_default();
        opt.add_special_tokens = 0;
        cf_encoding enc = {0};
        CF_TRY(cf_tokenizer_encode(tm->tok, target, &opt, &enc, err));
        id = enc.n > 0 ? enc.ids[0] : -1;
        cf_encoding_free(&enc);
        if (id < 0) {
            cf_log_warn("The specified target token `%s` does not exist in the model vocabulary. We cannot replace "
                        "it with anything meaningful, ignoring it", target);
            return CF_OK;
        }
        const char *piece = cf_tokenizer_id_to_token(tm->tok, id);
        cf_log_warn("The specified target token `%s` does not exist in the model vocabulary. Replacing with `%s`.",
                    target, piece ? piece : "?");
    }
    for (size_t i = 0; i < fp->n_targets; i++)
        if (fp->targets[i] == id)
            return CF_OK; /* a set in Python */
    int64_t *grown = realloc(fp->targets, (fp->n_targets + 1) * sizeof *grown);
    if (!grown)
        return cf_fail(err, CF_ERR_NOMEM, "fill-mask: out of memory");
    fp->targets = grown;
    fp->targets[fp->n_targets++] = id;
    return CF_OK;
}

static cf_status parse_targets(const cf_text_model *tm, const cJSON *v, fm_params *fp, cf_error *err)
{
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (cJSON_IsString(v)) {
        CF_TRY(add_target(tm, fp, v->valuestring, err));
    } else if (cJSON_IsArray(v)) {
        const cJSON *item;
        cJSON_ArrayForEach(item, v)
        {
            if (!cJSON_IsString(item))
                return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'targets' must hold only strings");
            CF_TRY(add_target(tm, fp, item->valuestring, err));
        }
    } else {
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'targets' must be a string or a list of strings");
    }
    if (fp->n_targets == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "At least one target must be provided when passed.");
    return CF_OK;
}

static cf_status parse_params(const cf_text_model *tm, const cJSON *params, fm_params *fp, cf_error *err)
{
    *fp = (fm_params){.opt = cf_encode_options_default()};
    CF_TRY(cf_params_check(params, "fill-mask", k_params, err));
    if (tm->mask_id < 0)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "fill-mask: the tokenizer does not define a `mask_token`.");
    CF_TRY(cf_param_int(params, "top_k", 5, 1, &fp->top_k, err));
    const cJSON *kw = cf_param(params, "tokenizer_kwargs");
    if (kw && !cJSON_IsNull(kw)) {
        if (!cJSON_IsObject(kw))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'tokenizer_kwargs' must be an object");
        CF_TRY(cf_params_check(kw, "fill-mask tokenizer_kwargs", cf_text_tokenizer_kwarg_names, err));
        CF_TRY(cf_text_tokenizer_kwargs(tm, kw, &fp->opt, err));
    }
    CF_TRY(parse_targets(tm, cf_param(params, "targets"), fp, err));
    if (fp->targets && (int64_t)fp->n_targets < fp->top_k)
        fp->top_k = (int64_t)fp->n_targets;
    return CF_OK;
}

/* The k best of probs[n] (descending; equal values keep index order) into idx. */
static int64_t top_k(const float *probs, int64_t n, int64_t k, int64_t *idx)
{
    int64_t have = 0;
    for (int64_t i = 0; i < n; i++) {
        if (have == k && probs[i] <= probs[idx[k - 1]])
            continue;
        int64_t j = have < k ? have++ : k - 1;
        while (j > 0 && probs[idx[j - 1]] < probs[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return have;
}

/* The input ids with `token` at `pos`, padding removed, decoded. */
static cf_status candidate_sequence(const cf_text_model *tm, const cf_encoding *enc, int64_t pos, int64_t token,
                                    bool skip_special, char **out, cf_error *err)
{
    int64_t *ids = malloc(enc->n * sizeof(int64_t));
    if (!ids)
        return cf_fail(err, CF_ERR_NOMEM, "fill-mask: out of memory");
    size_t n = 0;
    for (size_t i = 0; i < enc->n; i++) {
        int64_t id = (int64_t)i == pos ? token : enc->ids[i];
        if (id != tm->pad_id)
            ids[n++] = id;
    }
    cf_status s = cf_tokenizer_decode(tm->tok, ids, n, skip_special, out, err);
    free(ids);
    return s;
}

static cf_status candidate_json(const cf_text_model *tm, const cf_encoding *enc, int64_t pos, int64_t token,
                                float score, bool single, cJSON **out, cf_error *err)
{
    char *token_str = NULL, *sequence = NULL;
    cf_status s = cf_tokenizer_decode(tm->tok, &token, 1, 0, &token_str, err);
    if (s == CF_OK)
        s = candidate_sequence(tm, enc, pos, token, single, &sequence, err);
    if (s == CF_OK) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "score", cf_json_score(score));
        cJSON_AddNumberToObject(o, "token", (double)token);
        cJSON_AddStringToObject(o, "token_str", token_str);
        cJSON_AddStringToObject(o, "sequence", sequence);
        *out = o;
    }
    free(token_str);
    free(sequence);
    return s;
}

/* Candidates for one mask position from its vocabulary logits. */
static cf_status fill_one(const cf_text_model *tm, const fm_params *fp, const cf_encoding *enc, int64_t pos,
                          const float *logits, int64_t vocab, bool single, float *probs, cJSON **out, cf_error *err)
{
    cf_softmax_f32(logits, probs, vocab);
    int64_t n = vocab;
    if (fp->targets) { /* probs[..., target_ids]: gathered into the tail, then moved to the front */
        float *picked = probs + vocab; /* the caller's buffer holds vocab + n_targets floats */
        for (size_t i = 0; i < fp->n_targets; i++)
            picked[i] = probs[fp->targets[i]];
        memcpy(probs, picked, fp->n_targets * sizeof(float));
        n = (int64_t)fp->n_targets;
    }
    if (fp->top_k > n)
        return cf_fail(err, CF_ERR_INVALID_ARG, "fill-mask: top_k %lld is larger than the %lld candidates",
                       (long long)fp->top_k, (long long)n);
    int64_t *idx = malloc((size_t)fp->top_k * sizeof(int64_t));
    if (!idx)
        return cf_fail(err, CF_ERR_NOMEM, "fill-mask: out of memory");
    int64_t k = top_k(probs, n, fp->top_k, idx);
    cJSON *row = cJSON_CreateArray();
    for (int64_t i = 0; i < k; i++) {
        int64_t token = fp->targets ? fp->targets[idx[i]] : idx[i];
        cJSON *one = NULL;
        cf_status s = candidate_json(tm, enc, pos, token, probs[idx[i]], single, &one, err);
        if (s != CF_OK) {
            free(idx);
            cJSON_Delete(row);
            return s;
        }
        cJSON_AddItemToArray(row, one);
    }
    free(idx);
    *out = row;
    return CF_OK;
}

static cf_status fill(void *ctx, const char *text, cJSON **out, cf_error *err)
{
    const fm_params *fp = ctx;
    cf_text_model *tm = fp->tm;
    cf_encoding enc = {0};
    CF_TRY(cf_tokenizer_encode(tm->tok, text, &fp->opt, &enc, err));
    int64_t *masks = malloc((enc.n ? enc.n : 1) * sizeof(int64_t));
    int64_t vocab = cf_encoder_vocab_size(tm->enc);
    float *probs = malloc(((size_t)vocab + fp->n_targets) * sizeof(float));
    int64_t n_masks = 0;
    for (size_t i = 0; masks && i < enc.n; i++)
        if (enc.ids[i] == tm->mask_id)
            masks[n_masks++] = (int64_t)i;
    cf_status s = masks && probs ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "fill-mask: out of memory");
    for (size_t i = 0; s == CF_OK && i < fp->n_targets; i++)
        if (fp->targets[i] >= vocab)
            s = cf_fail(err, CF_ERR_INVALID_ARG, "fill-mask: target token id %lld is outside the model's %lld logits",
                        (long long)fp->targets[i], (long long)vocab);
    if (s == CF_OK && n_masks == 0)
        s = cf_fail(err, CF_ERR_INVALID_ARG, "fill-mask: No mask_token (%s) found on the input", tm->mask_token);
    cf_encoder_output o;
    if (s == CF_OK)
        s = cf_text_model_forward(tm, &enc, masks, n_masks, &o, err);
    cJSON *rows = s == CF_OK ? cJSON_CreateArray() : NULL;
    for (int64_t m = 0; s == CF_OK && m < n_masks; m++) {
        cJSON *row = NULL;
        s = fill_one(tm, fp, &enc, masks[m], o.logits + m * vocab, vocab, n_masks == 1, probs, &row, err);
        if (s == CF_OK)
            cJSON_AddItemToArray(rows, row);
    }
    if (s == CF_OK && n_masks == 1) { /* one mask: its list alone */
        *out = cJSON_DetachItemFromArray(rows, 0);
        cJSON_Delete(rows);
    } else if (s == CF_OK) {
        *out = rows;
    } else {
        cJSON_Delete(rows);
    }
    free(masks);
    free(probs);
    cf_encoding_free(&enc);
    return s;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    fm_params fp;
    cf_status s = parse_params(p->state, params, &fp, err);
    fp.tm = p->state;
    if (s == CF_OK)
        s = cf_map_text_inputs(inputs, "fill-mask", fill, &fp, out, err);
    free(fp.targets);
    return s;
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_MASKED_LM, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

const cf_task cf_task_fill_mask = {
    .name = "fill-mask",
    .default_model = "distilroberta-base",
    .open = open_task,
    .run = run,
    .close = close_task,
};
