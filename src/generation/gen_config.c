#include "generation/gen_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/json_util.h"

void cf_gen_config_defaults(cf_gen_config *g)
{
    memset(g, 0, sizeof *g);
    g->max_length = 20;
    g->max_new_tokens = -1;
    g->min_length = 0;
    g->min_new_tokens = -1;
    g->num_beams = 1;
    g->num_return_sequences = 1;
    g->temperature = 1.0;
    g->top_k = 50;
    g->top_p = 1.0;
    g->typical_p = 1.0;
    g->repetition_penalty = 1.0;
    g->length_penalty = 1.0;
    g->pad_token_id = -1;
    g->bos_token_id = -1;
    g->decoder_start_token_id = -1;
    g->forced_bos_token_id = -1;
}

static void list_free(cf_token_list *l)
{
    free(l->ids);
    l->ids = NULL;
    l->n = 0;
}

static void bad_words_free(cf_gen_config *g)
{
    for (size_t i = 0; i < g->n_bad_words; i++)
        list_free(&g->bad_words_ids[i]);
    free(g->bad_words_ids);
    g->bad_words_ids = NULL;
    g->n_bad_words = 0;
}

static void stop_strings_free(cf_gen_config *g)
{
    for (size_t i = 0; i < g->n_stop_strings; i++)
        free(g->stop_strings[i]);
    free(g->stop_strings);
    g->stop_strings = NULL;
    g->n_stop_strings = 0;
}

void cf_gen_config_free(cf_gen_config *g)
{
    if (!g)
        return;
    list_free(&g->eos_token_id);
    list_free(&g->forced_eos_token_id);
    bad_words_free(g);
    stop_strings_free(g);
}

static bool list_copy(cf_token_list *dst, const cf_token_list *src)
{
    dst->n = src->n;
    dst->ids = NULL;
    if (!src->n)
        return true;
    dst->ids = malloc(src->n * sizeof *dst->ids);
    if (!dst->ids)
        return false;
    memcpy(dst->ids, src->ids, src->n * sizeof *dst->ids);
    return true;
}

cf_status cf_gen_config_copy(cf_gen_config *dst, const cf_gen_config *src, cf_error *err)
{
    *dst = *src;
    dst->eos_token_id = (cf_token_list){0};
    dst->forced_eos_token_id = (cf_token_list){0};
    dst->bad_words_ids = NULL;
    dst->n_bad_words = 0;
    dst->stop_strings = NULL;
    dst->n_stop_strings = 0;
    bool ok = list_copy(&dst->eos_token_id, &src->eos_token_id) &&
              list_copy(&dst->forced_eos_token_id, &src->forced_eos_token_id);
    if (ok && src->n_bad_words) {
        dst->bad_words_ids = calloc(src->n_bad_words, sizeof *dst->bad_words_ids);
        ok = dst->bad_words_ids != NULL;
        for (size_t i = 0; ok && i < src->n_bad_words; i++, dst->n_bad_words++)
            ok = list_copy(&dst->bad_words_ids[i], &src->bad_words_ids[i]);
    }
    if (ok && src->n_stop_strings) {
        dst->stop_strings = calloc(src->n_stop_strings, sizeof *dst->stop_strings);
        ok = dst->stop_strings != NULL;
        for (size_t i = 0; ok && i < src->n_stop_strings; i++, dst->n_stop_strings++)
            ok = (dst->stop_strings[i] = cf_strdup(src->stop_strings[i])) != NULL;
    }
    if (!ok) {
        cf_gen_config_free(dst);
        return cf_fail(err, CF_ERR_NOMEM, "generation config: out of memory");
    }
    return CF_OK;
}

/* ------------------------------------------------------------ typed values ---- */

static cf_status bad_type(const char *what, const char *key, const cJSON *v, const char *want, cf_error *err)
{
    char buf[96];
    return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"%s\" is %s (%s), expected %s", what, key, cf_json_type_name(v),
                   cf_json_compact(v, buf, sizeof buf), want);
}

static bool as_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
        return false;
    *out = (int64_t)d;
    return true;
}

static cf_status get_int(const cJSON *v, const char *what, const char *key, int64_t min, int64_t *out,
                         cf_error *err)
{
    int64_t x;
    if (!as_int(v, &x))
        return bad_type(what, key, v, "an integer", err);
    if (x < min)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"%s\" is %lld, must be >= %lld", what, key, (long long)x,
                       (long long)min);
    *out = x;
    return CF_OK;
}

static cf_status get_float(const cJSON *v, const char *what, const char *key, double *out, cf_error *err)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return bad_type(what, key, v, "a number", err);
    *out = v->valuedouble;
    return CF_OK;
}

static cf_status get_bool(const cJSON *v, const char *what, const char *key, bool *out, cf_error *err)
{
    if (!cJSON_IsBool(v))
        return bad_type(what, key, v, "true or false", err);
    *out = cJSON_IsTrue(v);
    return CF_OK;
}

/* An int, or a list of ints (eos_token_id may be either). */
static cf_status get_int_list(const cJSON *v, const char *what, const char *key, cf_token_list *out,
                              cf_error *err)
{
    cf_token_list l = {0};
    if (cJSON_IsNull(v)) {
        list_free(out);
        return CF_OK;
    }
    if (cJSON_IsNumber(v)) {
        int64_t x;
        CF_TRY(get_int(v, what, key, 0, &x, err));
        l.ids = malloc(sizeof *l.ids);
        if (!l.ids)
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", what);
        l.ids[0] = x;
        l.n = 1;
    } else if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        l.ids = malloc((size_t)(n ? n : 1) * sizeof *l.ids);
        if (!l.ids)
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", what);
        for (const cJSON *e = v->child; e; e = e->next) {
            if (!as_int(e, &l.ids[l.n]) || l.ids[l.n] < 0) {
                free(l.ids);
                return bad_type(what, key, v, "a token id or a list of token ids", err);
            }
            l.n++;
        }
    } else {
        return bad_type(what, key, v, "a token id or a list of token ids", err);
    }
    list_free(out);
    *out = l;
    return CF_OK;
}

static cf_status get_bad_words(cf_gen_config *g, const cJSON *v, const char *what, cf_error *err)
{
    if (cJSON_IsNull(v)) {
        bad_words_free(g);
        return CF_OK;
    }
    if (!cJSON_IsArray(v))
        return bad_type(what, "bad_words_ids", v, "a list of lists of token ids", err);
    for (const cJSON *e = v->child; e; e = e->next)
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) == 0)
            return bad_type(what, "bad_words_ids", v, "a list of non-empty lists of token ids", err);
    bad_words_free(g);
    int n = cJSON_GetArraySize(v);
    g->bad_words_ids = calloc((size_t)(n ? n : 1), sizeof *g->bad_words_ids);
    if (!g->bad_words_ids)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", what);
    for (const cJSON *e = v->child; e; e = e->next) {
        CF_TRY(get_int_list(e, what, "bad_words_ids", &g->bad_words_ids[g->n_bad_words], err));
        g->n_bad_words++;
    }
    return CF_OK;
}

static cf_status get_stop_strings(cf_gen_config *g, const cJSON *v, const char *what, const char *key,
                                  cf_error *err)
{
    if (cJSON_IsNull(v)) {
        stop_strings_free(g);
        return CF_OK;
    }
    bool one = cJSON_IsString(v);
    if (!one && !cJSON_IsArray(v))
        return bad_type(what, key, v, "a string or a list of strings", err);
    if (!one)
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e) || !e->valuestring[0])
                return bad_type(what, key, v, "a list of non-empty strings", err);
    stop_strings_free(g);
    int n = one ? 1 : cJSON_GetArraySize(v);
    g->stop_strings = calloc((size_t)(n ? n : 1), sizeof *g->stop_strings);
    if (!g->stop_strings)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", what);
    for (const cJSON *e = one ? v : v->child; e; e = one ? NULL : e->next) {
        if (!e->valuestring[0])
            continue;
        if (!(g->stop_strings[g->n_stop_strings] = cf_strdup(e->valuestring)))
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", what);
        g->n_stop_strings++;
    }
    return CF_OK;
}

static cf_status get_early_stopping(cf_gen_config *g, const cJSON *v, const char *what, cf_error *err)
{
    if (cJSON_IsBool(v)) {
        g->early_stopping = cJSON_IsTrue(v) ? CF_EARLY_STOP_TRUE : CF_EARLY_STOP_FALSE;
        return CF_OK;
    }
    if (cJSON_IsString(v) && !strcmp(v->valuestring, "never")) {
        g->early_stopping = CF_EARLY_STOP_NEVER;
        return CF_OK;
    }
    return bad_type(what, "early_stopping", v, "true, false or \"never\"", err);
}

/* Optional token id: null clears it. */
static cf_status get_token(const cJSON *v, const char *what, const char *key, int64_t *out, cf_error *err)
{
    if (cJSON_IsNull(v)) {
        *out = -1;
        return CF_OK;
    }
    /* some configs give a list for pad/bos; take the first as transformers effectively does */
    if (cJSON_IsArray(v) && v->child)
        v = v->child;
    return get_int(v, what, key, 0, out, err);
}

/* Keys a config may carry that only matter when set to something other than their default. */
static const char *const unsupported_keys[] = {
    "num_beam_groups", "diversity_penalty", "penalty_alpha", "epsilon_cutoff", "eta_cutoff",
    "encoder_repetition_penalty", "encoder_no_repeat_ngram_size", "exponential_decay_length_penalty",
    "sequence_bias", "guidance_scale", "constraints", "force_words_ids", "prefix_allowed_tokens_fn",
    "assistant_model", "streamer", "logits_processor", "stopping_criteria", "max_time", "low_memory", NULL};

/* Keys that are accepted and have no effect on the result. */
static const char *const ignored_keys[] = {
    "use_cache", "output_scores", "output_attentions", "output_hidden_states", "return_dict_in_generate",
    "renormalize_logits", "remove_invalid_values", "synced_gpus", "transformers_version", "_from_model_config",
    "_commit_hash", NULL};

static bool in_list(const char *const *list, const char *key)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(list[i], key))
            return true;
    return false;
}

static bool is_default_value(const cJSON *v)
{
    if (cJSON_IsNull(v) || cJSON_IsFalse(v))
        return true;
    if (cJSON_IsNumber(v))
        return v->valuedouble == 0 || v->valuedouble == 1;
    return false;
}

/* Apply one key; *known tells whether the key was a generation key. */
static cf_status apply_key(cf_gen_config *g, const char *k, const cJSON *v, const char *what, bool *known,
                           cf_error *err)
{
    *known = true;
    if (!strcmp(k, "max_length"))
        return get_int(v, what, k, 0, &g->max_length, err);
    if (!strcmp(k, "max_new_tokens")) {
        if (cJSON_IsNull(v)) {
            g->max_new_tokens = -1;
            return CF_OK;
        }
        return get_int(v, what, k, 0, &g->max_new_tokens, err);
    }
    if (!strcmp(k, "min_length"))
        return get_int(v, what, k, 0, &g->min_length, err);
    if (!strcmp(k, "min_new_tokens")) {
        if (cJSON_IsNull(v)) {
            g->min_new_tokens = -1;
            return CF_OK;
        }
        return get_int(v, what, k, 0, &g->min_new_tokens, err);
    }
    if (!strcmp(k, "do_sample"))
        return get_bool(v, what, k, &g->do_sample, err);
    if (!strcmp(k, "num_beams"))
        return get_int(v, what, k, 1, &g->num_beams, err);
    if (!strcmp(k, "num_return_sequences"))
        return get_int(v, what, k, 1, &g->num_return_sequences, err);
    if (!strcmp(k, "temperature")) {
        CF_TRY(get_float(v, what, k, &g->temperature, err));
        if (g->temperature <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"temperature\" is %g, must be a positive number", what,
                           g->temperature);
        return CF_OK;
    }
    if (!strcmp(k, "top_k")) {
        if (cJSON_IsNull(v)) {
            g->top_k = 0;
            return CF_OK;
        }
        return get_int(v, what, k, 0, &g->top_k, err);
    }
    if (!strcmp(k, "top_p") || !strcmp(k, "typical_p")) {
        double *dst = !strcmp(k, "top_p") ? &g->top_p : &g->typical_p;
        CF_TRY(get_float(v, what, k, dst, err));
        if (*dst < 0 || *dst > 1)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"%s\" is %g, must be between 0 and 1", what, k, *dst);
        return CF_OK;
    }
    if (!strcmp(k, "repetition_penalty")) {
        CF_TRY(get_float(v, what, k, &g->repetition_penalty, err));
        if (g->repetition_penalty <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"repetition_penalty\" is %g, must be positive", what,
                           g->repetition_penalty);
        return CF_OK;
    }
    if (!strcmp(k, "length_penalty"))
        return get_float(v, what, k, &g->length_penalty, err);
    if (!strcmp(k, "no_repeat_ngram_size"))
        return get_int(v, what, k, 0, &g->no_repeat_ngram_size, err);
    if (!strcmp(k, "early_stopping"))
        return get_early_stopping(g, v, what, err);
    if (!strcmp(k, "eos_token_id"))
        return get_int_list(v, what, k, &g->eos_token_id, err);
    if (!strcmp(k, "forced_eos_token_id"))
        return get_int_list(v, what, k, &g->forced_eos_token_id, err);
    if (!strcmp(k, "pad_token_id"))
        return get_token(v, what, k, &g->pad_token_id, err);
    if (!strcmp(k, "bos_token_id"))
        return get_token(v, what, k, &g->bos_token_id, err);
    if (!strcmp(k, "decoder_start_token_id"))
        return get_token(v, what, k, &g->decoder_start_token_id, err);
    if (!strcmp(k, "forced_bos_token_id"))
        return get_token(v, what, k, &g->forced_bos_token_id, err);
    if (!strcmp(k, "bad_words_ids"))
        return get_bad_words(g, v, what, err);
    if (!strcmp(k, "stop_strings") || !strcmp(k, "stop"))
        return get_stop_strings(g, v, what, k, err);
    if (!strcmp(k, "seed")) {
        if (cJSON_IsNull(v)) {
            g->has_seed = false;
            return CF_OK;
        }
        int64_t s;
        CF_TRY(get_int(v, what, k, 0, &s, err));
        g->seed = (uint64_t)s;
        g->has_seed = true;
        return CF_OK;
    }
    *known = false;
    return CF_OK;
}

bool cf_gen_config_is_key(const char *key)
{
    static const char *const keys[] = {
        "max_length", "max_new_tokens", "min_length", "min_new_tokens", "do_sample", "num_beams",
        "num_return_sequences", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
        "length_penalty", "no_repeat_ngram_size", "early_stopping", "eos_token_id", "forced_eos_token_id",
        "pad_token_id", "bos_token_id", "decoder_start_token_id", "forced_bos_token_id", "bad_words_ids",
        "stop_strings", "stop", "seed", NULL};
    return in_list(keys, key) || in_list(ignored_keys, key) || in_list(unsupported_keys, key);
}

cf_status cf_gen_config_apply_json(cf_gen_config *g, const cJSON *obj, bool strict, const char *what,
                                   cf_error *err)
{
    if (!obj || cJSON_IsNull(obj))
        return CF_OK;
    if (!cJSON_IsObject(obj))
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: expected a JSON object, got %s", what,
                       cf_json_type_name(obj));
    for (const cJSON *c = obj->child; c; c = c->next) {
        bool known;
        CF_TRY(apply_key(g, c->string, c, what, &known, err));
        if (known || in_list(ignored_keys, c->string))
            continue;
        if (in_list(unsupported_keys, c->string)) {
            if (strict && !is_default_value(c))
                return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: generation parameter \"%s\" is not supported", what,
                               c->string);
            continue;
        }
        if (strict)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: unknown generation parameter \"%s\"", what, c->string);
    }
    return CF_OK;
}

cf_status cf_gen_config_load(cf_gen_config *g, const char *model_dir, const cf_config *model_config,
                             const char *task, cf_error *err)
{
    cf_gen_config_defaults(g);
    cf_config gc = {0};
    cf_status s = cf_config_load_optional(&gc, model_dir, "generation_config.json", err);
    if (s != CF_OK)
        return s;
    /* generate() uses generation_config.json when the folder has one, else config.json */
    bool has_file = gc.root && gc.root->child;
    const cJSON *src = has_file ? gc.root : (model_config ? model_config->root : NULL);
    s = cf_gen_config_apply_json(g, src, false, has_file ? gc.path : "config.json", err);
    if (s == CF_OK && task && model_config) {
        char key[160];
        snprintf(key, sizeof key, "task_specific_params.%s", task);
        const cJSON *tsp = cf_config_get(model_config, key);
        if (tsp)
            s = cf_gen_config_apply_json(g, tsp, false, "config.json task_specific_params", err);
    }
    cf_config_free(&gc);
    if (s != CF_OK)
        cf_gen_config_free(g);
    return s;
}

int64_t cf_gen_config_max_length(const cf_gen_config *g, int64_t prompt_len)
{
    return g->max_new_tokens >= 0 ? prompt_len + g->max_new_tokens : g->max_length;
}

cf_status cf_gen_config_validate(const cf_gen_config *g, cf_error *err)
{
    if (g->num_beams > 1 && g->num_return_sequences > g->num_beams)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "num_return_sequences (%lld) must be <= num_beams (%lld) for beam search",
                       (long long)g->num_return_sequences, (long long)g->num_beams);
    if (g->num_beams == 1 && !g->do_sample && g->num_return_sequences > 1)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "greedy search returns one sequence: num_return_sequences is %lld; set do_sample=true "
                       "or num_beams >= num_return_sequences",
                       (long long)g->num_return_sequences);
    if (g->num_beams > 256)
        return cf_fail(err, CF_ERR_INVALID_ARG, "num_beams is %lld; at most 256 are supported",
                       (long long)g->num_beams);
    if (g->num_return_sequences > 256)
        return cf_fail(err, CF_ERR_INVALID_ARG, "num_return_sequences is %lld; at most 256 are supported",
                       (long long)g->num_return_sequences);
    return CF_OK;
}
