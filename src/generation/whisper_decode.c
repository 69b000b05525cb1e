#include "generation/whisper_decode.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generation/generate.h"
#include "io/json_util.h"

#define MAX_FORCED 8

/* -------------------------------------------------------------- settings ---- */

static cf_status token_list(const cf_config *c, const char *key, cf_token_list *out, cf_error *err)
{
    out->ids = NULL;
    out->n = 0;
    if (!cf_config_has(c, key))
        return CF_OK;
    return cf_config_int_array(c, key, &out->ids, &out->n, err);
}

static cf_status read_langs(cf_whisper_gen_info *w, const cf_config *c, cf_error *err)
{
    const cJSON *map = cf_config_get(c, "lang_to_id"), *item;
    if (!cJSON_IsObject(map))
        return CF_OK;
    w->has_lang_to_id = true;
    w->langs = calloc((size_t)cJSON_GetArraySize(map) + 1, sizeof *w->langs);
    if (!w->langs)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cJSON_ArrayForEach(item, map)
    {
        size_t len = strlen(item->string);
        if (!cJSON_IsNumber(item) || len < 5 || len - 4 >= sizeof w->langs[0].code ||
            strncmp(item->string, "<|", 2) || strcmp(item->string + len - 2, "|>"))
            return cf_fail(err, CF_ERR_FORMAT, "%s: lang_to_id entry \"%s\" is not \"<|code|>\": id", c->path,
                           item->string);
        cf_whisper_lang *l = &w->langs[w->n_langs++];
        memcpy(l->code, item->string + 2, len - 4);
        l->id = (int64_t)item->valuedouble;
    }
    return CF_OK;
}

static cf_status read_forced(cf_whisper_gen_info *w, const cf_config *c, cf_error *err)
{
    const cJSON *list = cf_config_get(c, "forced_decoder_ids"), *pair;
    if (!cJSON_IsArray(list))
        return CF_OK;
    free(w->forced);
    w->n_forced = 0;
    w->forced = calloc(MAX_FORCED, sizeof *w->forced);
    if (!w->forced)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cJSON_ArrayForEach(pair, list)
    {
        const cJSON *step = cJSON_GetArrayItem(pair, 0), *tok = cJSON_GetArrayItem(pair, 1);
        if (w->n_forced >= MAX_FORCED || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(step) ||
            step->valuedouble < 1 || step->valuedouble > MAX_FORCED || (!cJSON_IsNumber(tok) && !cJSON_IsNull(tok)))
            return cf_fail(err, CF_ERR_FORMAT, "%s: forced_decoder_ids must be up to %d [step, token|null] pairs",
                           c->path, MAX_FORCED);
        w->forced[w->n_forced][0] = (int64_t)step->valuedouble;
        w->forced[w->n_forced++][1] = cJSON_IsNull(tok) ? -1 : (int64_t)tok->valuedouble;
    }
    return CF_OK;
}

static cf_status read_info(cf_whisper_gen_info *w, const cf_config *c, cf_error *err)
{
    w->decoder_start = cf_config_int(c, "decoder_start_token_id", 50258);
    w->no_timestamps = cf_config_int(c, "no_timestamps_token_id", -1);
    w->max_initial_timestamp_index = cf_config_has(c, "max_initial_timestamp_index")
                                         ? cf_config_int(c, "max_initial_timestamp_index", -1) : -1;
    w->has_task_to_id = cJSON_IsObject(cf_config_get(c, "task_to_id"));
    w->english_only = !cf_config_bool(c, "is_multilingual", true);
    w->transcribe_id = cf_config_int(c, "task_to_id.transcribe", -1);
    w->translate_id = cf_config_int(c, "task_to_id.translate", -1);
    cf_token_list eos = {0};
    CF_TRY(token_list(c, "eos_token_id", &eos, err));
    w->eos = eos.n ? eos.ids[0] : 50257;
    free(eos.ids);
    CF_TRY(token_list(c, "suppress_tokens", &w->suppress, err));
    CF_TRY(token_list(c, "begin_suppress_tokens", &w->begin_suppress, err));
    CF_TRY(read_langs(w, c, err));
    return read_forced(w, c, err);
}

cf_status cf_whisper_gen_info_load(cf_whisper_gen_info *w, const char *model_dir, cf_error *err)
{
    memset(w, 0, sizeof *w);
    cf_config c;
    CF_TRY(cf_config_load_optional(&c, model_dir, "generation_config.json", err));
    if (!c.root) {
        cf_config_free(&c);
        CF_TRY(cf_config_load_optional(&c, model_dir, "config.json", err));
    }
    cf_status s = read_info(w, &c, err);
    cf_config_free(&c);
    if (s == CF_OK) /* config.json's forced_decoder_ids (the legacy place) take precedence */
        s = cf_config_load_optional(&c, model_dir, "config.json", err);
    if (s == CF_OK) {
        s = read_forced(w, &c, err);
        cf_config_free(&c);
    }
    if (s != CF_OK)
        cf_whisper_gen_info_free(w);
    return s;
}

void cf_whisper_gen_info_free(cf_whisper_gen_info *w)
{
    free(w->suppress.ids);
    free(w->begin_suppress.ids);
    free(w->langs);
    free(w->forced);
    memset(w, 0, sizeof *w);
}

/* tokenization_whisper.LANGUAGES (transformers 4.35.2): code -> name. */
static const char *const k_languages[][2] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"},
    {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"},
    {"pl", "polish"}, {"ca", "catalan"}, {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"},
    {"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
    {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"}, {"cs", "czech"},
    {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
    {"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"},
    {"la", "latin"}, {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
    {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"},
    {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"}, {"et", "estonian"}, {"mk", "macedonian"},
    {"br", "breton"}, {"eu", "basque"}, {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"},
    {"mn", "mongolian"}, {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
    {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"}, {"km", "khmer"},
    {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"}, {"af", "afrikaans"}, {"oc", "occitan"},
    {"ka", "georgian"}, {"be", "belarusian"}, {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"},
    {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"}, {"mt", "maltese"},
    {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"}, {"bo", "tibetan"}, {"tl", "tagalog"},
    {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"},
    {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"},
};

/* The aliases TO_LANGUAGE_CODE adds to the names: alias -> code. */
static const char *const k_aliases[][2] = {
    {"burmese", "my"}, {"valencian", "ca"}, {"flemish", "nl"}, {"haitian", "ht"},
    {"letzeburgesch", "lb"}, {"pushto", "ps"}, {"panjabi", "pa"}, {"moldavian", "ro"},
    {"moldovan", "ro"}, {"sinhalese", "si"}, {"castilian", "es"},
};

#define N_LANGUAGES (sizeof k_languages / sizeof k_languages[0])
#define N_ALIASES (sizeof k_aliases / sizeof k_aliases[0])

const char *cf_whisper_language_name(const char *code)
{
    for (size_t i = 0; i < N_LANGUAGES; i++)
        if (!strcmp(k_languages[i][0], code))
            return k_languages[i][1];
    return NULL;
}

/* TO_LANGUAGE_CODE[name]: a name or alias -> code, NULL when neither. */
static const char *code_of_name(const char *name)
{
    for (size_t i = 0; i < N_LANGUAGES; i++)
        if (!strcmp(k_languages[i][1], name))
            return k_languages[i][0];
    for (size_t i = 0; i < N_ALIASES; i++)
        if (!strcmp(k_aliases[i][0], name))
            return k_aliases[i][1];
    return NULL;
}

static int64_t id_of_code(const cf_whisper_gen_info *w, const char *code)
{
    for (size_t i = 0; i < w->n_langs; i++)
        if (!strcmp(w->langs[i].code, code))
            return w->langs[i].id;
    return -1;
}

/* generate(): language.lower(), then a lang_to_id key, a TO_LANGUAGE_CODE name, or a code. */
cf_status cf_whisper_language_id(const cf_whisper_gen_info *w, const char *language, int64_t *id, cf_error *err)
{
    char lower[64];
    size_t len = strlen(language);
    *id = -1;
    if (!w->has_lang_to_id)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "language \"%s\": the model's generation_config.json has no "
                       "lang_to_id, so it cannot be told a language", language);
    if (len == 0 || len >= sizeof lower)
        return cf_fail(err, CF_ERR_INVALID_ARG, "language \"%.60s\" is not a Whisper language", language);
    for (size_t i = 0; i <= len; i++)
        lower[i] = (char)tolower((unsigned char)language[i]);
    const char *code = NULL;
    if (len > 4 && !strncmp(lower, "<|", 2) && !strcmp(lower + len - 2, "|>")) {
        lower[len - 2] = '\0';
        *id = id_of_code(w, lower + 2); /* a lang_to_id key, else no spelling below matches */
    } else if ((code = code_of_name(lower)) != NULL || (code = cf_whisper_language_name(lower) ? lower : NULL)) {
        *id = id_of_code(w, code);
        if (*id < 0)
            return cf_fail(err, CF_ERR_UNSUPPORTED, "language \"%s\": the model has no <|%s|> token in lang_to_id",
                           language, code);
    }
    if (*id < 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unsupported language \"%s\": give a name (\"english\"), a code "
                       "(\"en\") or a token (\"<|en|>\") of one of the model's %zu languages", language, w->n_langs);
    return CF_OK;
}

const char *cf_whisper_language_code(const cf_whisper_gen_info *w, int64_t id)
{
    for (size_t i = 0; i < w->n_langs; i++)
        if (w->langs[i].id == id)
            return w->langs[i].code;
    return NULL;
}

/* ------------------------------------------------------------ logits rules ---- */

typedef struct rules {
    const cf_whisper_gen_info *w;
    int64_t force[MAX_FORCED + 1]; /* token forced at step i, -1 none */
    int64_t suppress_begin_at;     /* SuppressTokensAtBegin begin_index */
    bool timestamps;
    int64_t ts_begin_index, timestamp_begin;
} rules;

static void ban(float *row, int64_t V, const cf_token_list *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->ids[i] >= 0 && t->ids[i] < V)
            row[t->ids[i]] = -INFINITY;
}

static void ban_range(float *row, int64_t from, int64_t to)
{
    for (int64_t i = from < 0 ? 0 : from; i < to; i++)
        row[i] = -INFINITY;
}

/* Does the timestamps' total probability beat the best text token? (log-softmax of the row) */
static bool timestamps_win(const float *row, int64_t V, int64_t tb)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < V; i++)
        max = row[i] > max ? row[i] : max;
    if (max == -INFINITY)
        return false;
    double total = 0, ts = 0;
    float max_text = -INFINITY, max_ts = -INFINITY;
    for (int64_t i = 0; i < V; i++) {
        double e = exp((double)row[i] - max);
        total += e;
        if (i >= tb) {
            ts += e;
            max_ts = row[i] > max_ts ? row[i] : max_ts;
        } else if (row[i] > max_text) {
            max_text = row[i];
        }
    }
    if (max_ts == -INFINITY)
        return false;
    double log_total = log(total);
    double ts_logprob = log(ts) - log_total, text_logprob = (double)max_text - max - log_total;
    return ts_logprob > text_logprob;
}

/* WhisperTimeStampLogitsProcessor on one row of history hist[0..len). */
static void timestamp_rules(const rules *r, float *row, int64_t V, const int64_t *hist, int64_t len)
{
    int64_t tb = r->timestamp_begin, begin = r->ts_begin_index;
    if (r->w->no_timestamps >= 0 && r->w->no_timestamps < V)
        row[r->w->no_timestamps] = -INFINITY;
    if (len == begin - 1) {
        ban_range(row, 0, V);
        if (tb < V)
            row[tb] = 0.0f;
        return;
    }
    int64_t n = len - begin;
    bool last_ts = n >= 1 && hist[len - 1] >= tb;
    bool penultimate_ts = n < 2 || hist[len - 2] >= tb;
    if (last_ts) {
        if (penultimate_ts)
            ban_range(row, tb, V); /* a pair just closed: text (or eos) next */
        else
            ban_range(row, 0, r->w->eos); /* an opening timestamp: no text before its pair */
    }
    if (len == begin && r->w->max_initial_timestamp_index >= 0)
        ban_range(row, tb + r->w->max_initial_timestamp_index + 1, V);
    if (timestamps_win(row, V, tb))
        ban_range(row, 0, tb);
}

static void apply_rules(void *ctx, float *row, int64_t V, const int64_t *hist, int64_t len)
{
    const rules *r = ctx;
    ban(row, V, &r->w->suppress);
    if (len == r->suppress_begin_at)
        ban(row, V, &r->w->begin_suppress);
    if (len <= MAX_FORCED && r->force[len] >= 0 && r->force[len] < V) {
        float keep = 0.0f;
        ban_range(row, 0, V);
        row[r->force[len]] = keep;
    }
    if (r->timestamps)
        timestamp_rules(r, row, V, hist, len);
}

/* forced_decoder_ids as generate() builds them: from the language/task when either is given,
 * else generation_config.json's own list. */
static cf_status build_forced(const cf_whisper_gen_info *w, const cf_whisper_request *req, int64_t forced[][2],
                              size_t *n, cf_error *err)
{
    *n = 0;
    bool english_only = req->multilingual ? req->multilingual < 0 : w->english_only;
    if (english_only && (req->language || req->task))
        return cf_fail(err, CF_ERR_INVALID_ARG, "cannot give a %s to an English-only model (generation_config.json "
                       "says is_multilingual: false; pass is_multilingual true if the model is multilingual)",
                       req->language ? "language" : "task");
    if (!req->language && !req->task) {
        for (size_t i = 0; i < w->n_forced; i++) {
            forced[i][0] = w->forced[i][0];
            forced[i][1] = w->forced[i][1];
        }
        *n = w->n_forced;
        return CF_OK;
    }
    int64_t lang = -1;
    if (req->language)
        CF_TRY(cf_whisper_language_id(w, req->language, &lang, err));
    forced[(*n)][0] = 1;
    forced[(*n)++][1] = lang;
    int64_t task = w->transcribe_id;
    if (req->task && !w->has_task_to_id)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "task \"%s\": the model's generation_config.json has no task_to_id",
                       req->task);
    if (req->task && !strcmp(req->task, "translate"))
        task = w->translate_id;
    else if (req->task && strcmp(req->task, "transcribe"))
        return cf_fail(err, CF_ERR_INVALID_ARG, "task \"%s\" must be \"transcribe\" or \"translate\"", req->task);
    if (req->task && task < 0)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "task \"%s\" is not in the model's task_to_id", req->task);
    if (task >= 0) {
        forced[*n][0] = 2;
        forced[(*n)++][1] = task;
    }
    if (!req->return_timestamps && w->no_timestamps >= 0) {
        forced[*n][0] = forced[*n - 1][0] + 1;
        forced[(*n)++][1] = w->no_timestamps;
    }
    return CF_OK;
}

static cf_status build_rules(const cf_whisper_gen_info *w, const cf_whisper_request *req, rules *r, cf_error *err)
{
    int64_t forced[MAX_FORCED][2];
    size_t n = 0;
    CF_TRY(build_forced(w, req, forced, &n, err));
    *r = (rules){.w = w, .timestamps = req->return_timestamps, .timestamp_begin = w->no_timestamps + 1};
    for (size_t i = 0; i <= MAX_FORCED; i++)
        r->force[i] = -1;
    for (size_t i = 0; i < n; i++)
        r->force[forced[i][0]] = forced[i][1];
    /* the prompt is one token; generation's first free step follows the last forced one */
    r->suppress_begin_at = 1 + (n ? forced[n - 1][0] : 0);
    if (req->return_timestamps) {
        if (w->no_timestamps < 0)
            return cf_fail(err, CF_ERR_UNSUPPORTED, "return_timestamps needs no_timestamps_token_id in "
                           "generation_config.json");
        r->ts_begin_index = (int64_t)n + 2 - (n && forced[n - 1][1] == w->no_timestamps);
    }
    return CF_OK;
}

cf_status cf_whisper_generate(const cf_lm *lm, const cf_whisper_gen_info *w, const cf_gen_config *cfg,
                              const cf_whisper_request *req, int64_t **ids, int64_t *n, cf_error *err)
{
    *ids = NULL;
    *n = 0;
    rules r;
    CF_TRY(build_rules(w, req, &r, err));
    const int64_t prompt[1] = {w->decoder_start}, prompt_len = 1;
    const int64_t *prompts[1] = {prompt};
    cf_gen_request gr = {.cfg = cfg, .n_inputs = 1, .prompts = prompts, .prompt_lens = &prompt_len,
                         .enc_features = req->features, .enc_features_shape = {req->n_mels, req->n_frames},
                         .process_logits = apply_rules, .process_ctx = &r};
    cf_gen_result res;
    CF_TRY(cf_generate(lm, &gr, &res, err));
    *n = res.lens[0];
    *ids = res.ids[0];
    res.ids[0] = NULL;
    cf_gen_result_free(&res);
    return CF_OK;
}
