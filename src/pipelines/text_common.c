#include "pipelines/text_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

/* ------------------------------------------------------------ special tokens ---- */

/* The id of special token `role`: what the folder configures, else the first usual spelling
 * the vocabulary has (the slow tokenizer classes' defaults). */
static int64_t special_id(const cf_tokenizer *tok, const char *role, const char *const *usual, char *content,
                          size_t size)
{
    const char *configured = cf_tokenizer_special_token(tok, role);
    if (configured) {
        if (content)
            snprintf(content, size, "%s", configured);
        return cf_tokenizer_special_id(tok, role);
    }
    for (size_t i = 0; usual[i]; i++) {
        int64_t id = cf_tokenizer_token_to_id(tok, usual[i]);
        if (id >= 0) {
            if (content)
                snprintf(content, size, "%s", usual[i]);
            return id;
        }
    }
    return -1;
}

static void read_tokenizer_settings(cf_text_model *tm)
{
    int64_t mml = cf_tokenizer_model_max_length(tm->tok);
    tm->model_max_length = mml > 0 ? mml : INT64_MAX;
    tm->pad_left = cf_tokenizer_pads_left(tm->tok) != 0;
    static const char *const cls[] = {"[CLS]", "<s>", NULL}, *const sep[] = {"[SEP]", "</s>", NULL},
                             *const pad[] = {"[PAD]", "<pad>", NULL}, *const mask[] = {"[MASK]", "<mask>", NULL},
                             *const unk[] = {"[UNK]", "<unk>", NULL};
    tm->cls_id = special_id(tm->tok, "cls_token", cls, NULL, 0);
    tm->sep_id = special_id(tm->tok, "sep_token", sep, NULL, 0);
    tm->pad_id = special_id(tm->tok, "pad_token", pad, NULL, 0);
    tm->unk_id = special_id(tm->tok, "unk_token", unk, NULL, 0);
    tm->mask_id = special_id(tm->tok, "mask_token", mask, tm->mask_token, sizeof tm->mask_token);
}

/* ------------------------------------------------------------ open / forward ---- */

cf_status cf_text_model_open(const cf_pipeline *p, cf_encoder_head head, cf_text_model **out, cf_error *err)
{
    *out = NULL;
    if (!cf_encoder_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: %s: model_type '%s' is not supported for %s (bert, distilbert, roberta)",
                       p->task_name, p->config.path, cf_config_str(&p->config, "model_type", "(missing)"),
                       p->task_name);
    cf_text_model *tm = calloc(1, sizeof *tm);
    if (!tm)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate the pipeline state");
    tm->config = &p->config;
    const cJSON *tok_opt = p->options ? cJSON_GetObjectItemCaseSensitive(p->options, "tokenizer") : NULL;
    const char *tok_path = cJSON_IsString(tok_opt) ? tok_opt->valuestring : p->model_dir;
    cf_status s = cf_tokenizer_load_file(tok_path, &tm->tok, err);
    if (s == CF_OK)
        read_tokenizer_settings(tm);
    if (s == CF_OK)
        s = cf_encoder_load(p->model_dir, &p->config, head, &tm->enc, err);
    if (s != CF_OK) {
        cf_text_model_free(tm);
        return s;
    }
    *out = tm;
    return CF_OK;
}

void cf_text_model_free(cf_text_model *tm)
{
    if (!tm)
        return;
    cf_encoder_free(tm->enc);
    cf_tokenizer_free(tm->tok);
    free(tm);
}

cf_status cf_text_model_forward(cf_text_model *tm, const cf_encoding *enc, const int64_t *lm_rows, int64_t n_lm_rows,
                                cf_encoder_output *out, cf_error *err)
{
    if (enc->n == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "the input gives no tokens");
    int64_t seq = (int64_t)enc->n;
    if (seq > cf_encoder_max_tokens(tm->enc))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "the input is %lld tokens long, the model takes at most %lld (pass parameters "
                       "{\"truncation\": true} to cut it)",
                       (long long)seq, (long long)cf_encoder_max_tokens(tm->enc));
    CF_TRY(cf_encoder_reserve(tm->enc, 1, seq, lm_rows ? n_lm_rows : seq, err));
    cf_encoder_input in = {
        .batch = 1, .seq = seq, .input_ids = enc->ids, .attention_mask = enc->attention_mask,
        .token_type_ids = enc->type_ids, .lm_rows = lm_rows, .n_lm_rows = n_lm_rows,
    };
    return cf_encoder_forward(tm->enc, &in, out, err);
}

/* ------------------------------------------------------------ tokenizer kwargs ---- */

const char *const cf_text_tokenizer_kwarg_names[] = {"truncation", "max_length", "padding", "add_special_tokens",
                                                     NULL};

static cf_status parse_truncation(const cJSON *v, cf_truncation_strategy *out, cf_error *err)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? CF_TRUNCATE_LONGEST_FIRST : CF_TRUNCATE_NONE;
        return CF_OK;
    }
    static const struct {
        const char *name;
        cf_truncation_strategy s;
    } names[] = {{"longest_first", CF_TRUNCATE_LONGEST_FIRST}, {"only_first", CF_TRUNCATE_ONLY_FIRST},
                 {"only_second", CF_TRUNCATE_ONLY_SECOND},     {"do_not_truncate", CF_TRUNCATE_NONE}};
    for (size_t i = 0; cJSON_IsString(v) && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(v->valuestring, names[i].name)) {
            *out = names[i].s;
            return CF_OK;
        }
    return cf_fail(err, CF_ERR_INVALID_ARG,
                   "parameter 'truncation' must be true, false, \"longest_first\", \"only_first\", \"only_second\" "
                   "or \"do_not_truncate\"");
}

static cf_status parse_padding(const cJSON *v, cf_padding_strategy *out, cf_error *err)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? CF_PAD_LONGEST : CF_PAD_NONE;
        return CF_OK;
    }
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "longest")) {
            *out = CF_PAD_LONGEST;
            return CF_OK;
        }
        if (!strcmp(v->valuestring, "max_length")) {
            *out = CF_PAD_MAX_LENGTH;
            return CF_OK;
        }
        if (!strcmp(v->valuestring, "do_not_pad")) {
            *out = CF_PAD_NONE;
            return CF_OK;
        }
    }
    return cf_fail(err, CF_ERR_INVALID_ARG,
                   "parameter 'padding' must be true, false, \"longest\", \"max_length\" or \"do_not_pad\"");
}

cf_status cf_text_tokenizer_kwargs(const cf_text_model *tm, const cJSON *params, cf_encode_options *opt,
                                   cf_error *err)
{
    const cJSON *v;
    if ((v = cf_param(params, "truncation")) && !cJSON_IsNull(v))
        CF_TRY(parse_truncation(v, &opt->truncation, err));
    if ((v = cf_param(params, "padding")) && !cJSON_IsNull(v))
        CF_TRY(parse_padding(v, &opt->padding, err));
    bool special = opt->add_special_tokens;
    CF_TRY(cf_param_bool(params, "add_special_tokens", special, &special, err));
    opt->add_special_tokens = special;
    CF_TRY(cf_param_int(params, "max_length", 0, 1, &opt->max_length, err));
    /* transformers: truncation without max_length cuts at the tokenizer's model_max_length */
    if (opt->truncation != CF_TRUNCATE_NONE && opt->max_length == 0 && tm->model_max_length != INT64_MAX)
        opt->max_length = tm->model_max_length;
    return CF_OK;
}

/* ------------------------------------------------------------ small helpers ---- */

const char *cf_text_label(const cf_text_model *tm, int64_t i, char *buf, size_t size)
{
    return cf_config_label(tm->config, i, buf, size);
}

void cf_softmax_f32(const float *x, float *out, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        out[i] = expf(x[i] - max);
        sum += out[i];
    }
    for (int64_t i = 0; i < n; i++)
        out[i] /= sum;
}

void cf_sigmoid_f32(const float *x, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = 1.0f / (1.0f + expf(-x[i]));
}

int64_t cf_argmax_f32(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

cf_status cf_text_input_string(const cJSON *v, const char *what, const char **out, cf_error *err)
{
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s must be a string", what);
    *out = v->valuestring;
    return CF_OK;
}

/* Byte offset of code point `cp` in s (clamped to the end). */
static size_t cp_to_byte(const char *s, int64_t cp)
{
    size_t i = 0;
    for (int64_t n = 0; s[i] && n < cp; n++) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

char *cf_utf8_slice(const char *text, int64_t start, int64_t end)
{
    size_t a = cp_to_byte(text, start), b = cp_to_byte(text, end);
    if (b < a)
        b = a;
    char *out = malloc(b - a + 1);
    if (out) {
        memcpy(out, text + a, b - a);
        out[b - a] = '\0';
    }
    return out;
}

/* ------------------------------------------------------------ tokenizer facts ---- */
const char *cf_text_subword_prefix(const cf_text_model *tm)
{
    const char *p = cf_tokenizer_continuing_subword_prefix(tm->tok);
    return p ? p : "";
}

cf_status cf_text_tokens_to_string(const cf_text_model *tm, const char *const *tokens, size_t n, char **out,
                                   cf_error *err)
{
    return cf_tokenizer_tokens_to_string(tm->tok, tokens, n, out, err);
}
