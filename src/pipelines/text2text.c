#include "pipelines/text2text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "generation/generate.h"
#include "io/model_dir.h"
#include "models/seq2seq.h"
#include "pipelines/text_generation.h"

typedef struct t2t_state {
    cf_tokenizer *src_tok, *tgt_tok; /* tgt_tok == src_tok unless the folder has a target side */
    cf_seq2seq *model;
    cf_gen_config base;
    char *prefix;
    int64_t model_max_length;
} t2t_state;

void cf_text2text_close(cf_pipeline *p)
{
    t2t_state *s = p->state;
    if (!s)
        return;
    if (s->tgt_tok != s->src_tok)
        cf_tokenizer_free(s->tgt_tok);
    cf_tokenizer_free(s->src_tok);
    cf_seq2seq_free(s->model);
    cf_gen_config_free(&s->base);
    free(s->prefix);
    free(s);
    p->state = NULL;
}

/* Python: config.update(task_specific_params[task]) happens before the prefix is read. */
static cf_status read_prefix(t2t_state *s, const cf_pipeline *p, cf_error *err)
{
    char key[160];
    snprintf(key, sizeof key, "task_specific_params.%s.prefix", p->requested_task);
    const cJSON *v = cf_config_get(&p->config, key);
    if (!v)
        v = cf_config_get(&p->config, "prefix");
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"prefix\" must be a string", p->config.path);
    s->prefix = strdup(v->valuestring);
    return s->prefix ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}

static cf_status load_tokenizers(t2t_state *s, const cf_pipeline *p, cf_error *err)
{
    const cJSON *tok_opt = p->options ? cJSON_GetObjectItemCaseSensitive(p->options, "tokenizer") : NULL;
    const char *dir = cJSON_IsString(tok_opt) ? tok_opt->valuestring : p->model_dir;
    CF_TRY(cf_tokenizer_load(dir, &s->src_tok, err));
    s->model_max_length = cf_tokenizer_model_max_length(s->src_tok);
    char target[CF_PATH_MAX + 16];
    snprintf(target, sizeof target, "%s/target.spm", dir);
    if (!cf_file_exists(target)) {
        s->tgt_tok = s->src_tok;
        return CF_OK;
    }
    return cf_tokenizer_load_target(dir, &s->tgt_tok, err);
}

cf_status cf_text2text_open(cf_pipeline *p, cf_error *err)
{
    if (!cf_seq2seq_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: %s: model_type \"%s\" is not an encoder-decoder cformer runs",
                       p->task_name, p->config.path, cf_config_str(&p->config, "model_type", "(missing)"));
    t2t_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    p->state = s;
    cf_status st = load_tokenizers(s, p, err);
    if (st == CF_OK)
        st = cf_seq2seq_load(p->model_dir, &p->config, &s->model, err);
    if (st == CF_OK)
        st = cf_gen_config_load(&s->base, p->model_dir, &p->config, p->requested_task, err);
    if (st == CF_OK)
        st = read_prefix(s, p, err);
    if (st == CF_OK && s->base.decoder_start_token_id < 0) /* generate(): the model's, else bos */
        s->base.decoder_start_token_id = s->model->decoder_start_id >= 0 ? s->model->decoder_start_id
                                                                           : s->base.bos_token_id;
    if (st == CF_OK && s->base.decoder_start_token_id < 0)
        st = cf_fail(err, CF_ERR_FORMAT, "%s: no decoder_start_token_id or bos_token_id to start decoding from",
                     p->config.path);
    if (st != CF_OK)
        cf_text2text_close(p);
    return st;
}

/* ---------------------------------------------------------------- parameters ---- */

typedef struct t2t_params {
    bool tensors;   /* return_tensors: token ids instead of text */
    bool clean_up;  /* clean_up_tokenization_spaces (default False) */
    cf_truncation_strategy truncation;
    cf_gen_config gen;
} t2t_params;

static bool listed(const char *const *names, const char *k)
{
    for (size_t i = 0; names && names[i]; i++)
        if (!strcmp(names[i], k))
            return true;
    return false;
}

static cf_status bool_param(const cJSON *v, const char *key, bool *out, cf_error *err)
{
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(v);
    return CF_OK;
}

static cf_status truncation_param(const cJSON *v, cf_truncation_strategy *out, cf_error *err)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v) ? CF_TRUNCATE_LONGEST_FIRST : CF_TRUNCATE_NONE;
        return CF_OK;
    }
    static const char *const names[] = {"do_not_truncate", "longest_first", "only_first", "only_second"};
    for (int i = 0; cJSON_IsString(v) && i < 4; i++)
        if (!strcmp(v->valuestring, names[i])) {
            *out = (cf_truncation_strategy)i;
            return CF_OK;
        }
    return cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"truncation\" must be true, false, \"longest_first\", "
                   "\"only_first\", \"only_second\" or \"do_not_truncate\"");
}

/* stop_sequence: its first token becomes eos_token_id, as Python does. */
static cf_status stop_sequence(const t2t_state *s, const cJSON *v, cJSON *gen, cf_error *err)
{
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"stop_sequence\" must be a string");
    cf_encode_options o = cf_encode_options_default();
    o.add_special_tokens = 0;
    cf_encoding enc = {0};
    CF_TRY(cf_tokenizer_encode(s->tgt_tok, v->valuestring, &o, &enc, err));
    if (enc.n)
        cJSON_AddItemToObject(gen, "eos_token_id", cJSON_CreateNumber((double)enc.ids[0]));
    cf_encoding_free(&enc);
    return CF_OK;
}

static cf_status read_one(const t2t_state *s, const char *task, const char *const *extra, const cJSON *c,
                          t2t_params *tp, cJSON *gen, cf_error *err)
{
    const char *k = c->string;
    if (!strcmp(k, "return_tensors"))
        return cJSON_IsNull(c) ? CF_OK : bool_param(c, k, &tp->tensors, err);
    if (!strcmp(k, "return_text")) {
        bool text = true;
        CF_TRY(cJSON_IsNull(c) ? CF_OK : bool_param(c, k, &text, err));
        return CF_OK; /* Python only looks at return_tensors */
    }
    if (!strcmp(k, "clean_up_tokenization_spaces"))
        return cJSON_IsNull(c) ? CF_OK : bool_param(c, k, &tp->clean_up, err);
    if (!strcmp(k, "truncation"))
        return cJSON_IsNull(c) ? CF_OK : truncation_param(c, &tp->truncation, err);
    if (!strcmp(k, "stop_sequence"))
        return stop_sequence(s, c, gen, err);
    if (listed(extra, k))
        return CF_OK;
    if (cf_gen_config_is_key(k)) {
        cJSON_AddItemToObject(gen, k, cJSON_Duplicate(c, true));
        return CF_OK;
    }
    return cf_fail(err, CF_ERR_INVALID_ARG, "%s: unknown parameter \"%s\"", task, k);
}

static cf_status read_params(const t2t_state *s, const char *task, const char *const *extra, const cJSON *params,
                             t2t_params *tp, cf_error *err)
{
    *tp = (t2t_params){.truncation = CF_TRUNCATE_NONE};
    CF_TRY(cf_gen_config_copy(&tp->gen, &s->base, err));
    cJSON *gen = cJSON_CreateObject();
    cf_status st = gen ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (const cJSON *c = params ? params->child : NULL; st == CF_OK && c; c = c->next)
        st = read_one(s, task, extra, c, tp, gen, err);
    if (st == CF_OK)
        st = cf_gen_config_apply_json(&tp->gen, gen, true, task, err);
    cJSON_Delete(gen);
    if (st != CF_OK)
        cf_gen_config_free(&tp->gen);
    return st;
}

/* ------------------------------------------------------------------- running ---- */

static cf_status encode_text(const t2t_state *s, const t2t_params *tp, const char *text, cf_encoding *enc,
                             cf_error *err)
{
    cf_encode_options o = cf_encode_options_default();
    if (tp->truncation != CF_TRUNCATE_NONE && s->model_max_length > 0) {
        o.truncation = tp->truncation;
        o.max_length = s->model_max_length;
    }
    char *full = NULL;
    if (s->prefix && s->prefix[0]) {
        size_t n = strlen(s->prefix) + strlen(text) + 1;
        if (!(full = malloc(n)))
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        snprintf(full, n, "%s%s", s->prefix, text);
    }
    cf_status st = cf_tokenizer_encode(s->src_tok, full ? full : text, &o, enc, err);
    free(full);
    if (st == CF_OK && enc->n == 0)
        st = cf_fail(err, CF_ERR_INVALID_ARG, "the input gives no tokens");
    return st;
}

static cJSON *record(const t2t_state *s, const t2t_params *tp, const char *return_name, const int64_t *ids,
                     int64_t n, cf_error *err)
{
    char key[64];
    cJSON *rec = cJSON_CreateObject();
    if (tp->tensors) {
        snprintf(key, sizeof key, "%s_token_ids", return_name);
        cJSON *list = cJSON_AddArrayToObject(rec, key);
        for (int64_t i = 0; i < n; i++)
            cJSON_AddItemToArray(list, cJSON_CreateNumber((double)ids[i]));
        return rec;
    }
    char *text = NULL;
    if (cf_tokenizer_decode(s->tgt_tok, ids, (size_t)n, 1, &text, err) != CF_OK) {
        cJSON_Delete(rec);
        return NULL;
    }
    if (tp->clean_up)
        cf_clean_up_tokenization(text);
    snprintf(key, sizeof key, "%s_text", return_name);
    cJSON_AddStringToObject(rec, key, text);
    free(text);
    return rec;
}

/* One text -> a list of num_return_sequences records. */
static cf_status run_one(const t2t_state *s, const t2t_params *tp, const char *return_name, const char *text,
                         cJSON **out, cf_error *err)
{
    cf_encoding enc = {0};
    CF_TRY(encode_text(s, tp, text, &enc, err));
    cf_lm lm = cf_seq2seq_as_lm(s->model);
    int64_t start = tp->gen.decoder_start_token_id, one = 1;
    const int64_t *prompts[1] = {&start};
    cf_gen_request req = {.cfg = &tp->gen, .n_inputs = 1, .prompts = prompts, .prompt_lens = &one,
                          .enc_len = (int64_t)enc.n, .enc_ids = enc.ids, .enc_mask = enc.attention_mask};
    cf_gen_result res = {0};
    cf_status st = cf_generate(&lm, &req, &res, err);
    cJSON *list = st == CF_OK ? cJSON_CreateArray() : NULL;
    for (int64_t i = 0; st == CF_OK && i < res.n_seqs; i++) {
        cJSON *rec = record(s, tp, return_name, res.ids[i], res.lens[i], err);
        if (!rec)
            st = err->status != CF_OK ? err->status : CF_ERR_NOMEM;
        else
            cJSON_AddItemToArray(list, rec);
    }
    if (st == CF_OK)
        *out = list;
    else
        cJSON_Delete(list);
    cf_gen_result_free(&res);
    cf_encoding_free(&enc);
    return st;
}

/* A list of texts whose results are one record each comes back flat, as Python returns it. */
static cf_status run_list(const t2t_state *s, const t2t_params *tp, const char *task, const char *return_name,
                          const cJSON *inputs, cJSON **out, cf_error *err)
{
    cJSON *all = cJSON_CreateArray();
    bool flat = true;
    cf_status st = CF_OK;
    for (const cJSON *in = inputs->child; st == CF_OK && in; in = in->next) {
        cJSON *one = NULL;
        if (!cJSON_IsString(in))
            st = cf_fail(err, CF_ERR_INVALID_ARG, "%s: each item of \"inputs\" must be a string", task);
        else if ((st = run_one(s, tp, return_name, in->valuestring, &one, err)) == CF_OK) {
            flat &= cJSON_GetArraySize(one) == 1;
            cJSON_AddItemToArray(all, one);
        }
    }
    if (st != CF_OK) {
        cJSON_Delete(all);
        return st;
    }
    if (flat) {
        cJSON *flat_list = cJSON_CreateArray();
        for (cJSON *one = all->child; one; one = one->next)
            cJSON_AddItemToArray(flat_list, cJSON_DetachItemFromArray(one, 0));
        cJSON_Delete(all);
        all = flat_list;
    }
    *out = all;
    return CF_OK;
}

cf_status cf_text2text_run(cf_pipeline *p, const char *return_name, const char *const *extra_params,
                           const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    const t2t_state *s = p->state;
    t2t_params tp;
    CF_TRY(read_params(s, p->task_name, extra_params, params, &tp, err));
    cf_status st;
    if (cJSON_IsString(inputs))
        st = run_one(s, &tp, return_name, inputs->valuestring, out, err);
    else if (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) > 0)
        st = run_list(s, &tp, p->task_name, return_name, inputs, out, err);
    else
        st = cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"inputs\" must be a string or a non-empty list of strings",
                     p->task_name);
    cf_gen_config_free(&tp.gen);
    return st;
}
