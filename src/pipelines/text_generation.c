/* text-generation: transformers 4.35.2 TextGenerationPipeline over the generation engine.
 * Prompts are tokenized without special tokens (add_special_tokens=False, as Python does), each
 * prompt is generated on its own, and the text is decode(sequence)[len(decode(prompt)):]
 * counted in code points, after the prompt text when return_full_text. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "generation/generate.h"
#include "io/model_dir.h"
#include "models/causal_lm.h"
#include "models/llama.h"
#include "pipelines/pipeline.h"
#include "pipelines/text_common.h"
#include "pipelines/text_generation.h"

typedef struct tg_state {
    cf_tokenizer *tok;
    cf_causal_lm *model;
    cf_gen_config base; /* generation_config.json / config.json / task_specific_params */
} tg_state;

/* ------------------------------------------------------------ streaming hook ---- */

static _Thread_local cf_stream_fn t_stream_fn;
static _Thread_local void *t_stream_ctx;
static _Thread_local uint64_t t_tokens_generated; /* on this thread, every sequence */
static _Thread_local int64_t t_last_token = -1;   /* sequence 0's newest token */

uint64_t cf_text_generation_thread_tokens(void) { return t_tokens_generated; }
int64_t cf_text_generation_last_token(void) { return t_last_token; }

cf_status cf_pipeline_run_stream(cf_pipeline *p, const char *payload_json, cf_stream_fn on_text, void *ctx,
                                 cf_result **out, cf_error *err)
{
    t_stream_fn = on_text;
    t_stream_ctx = ctx;
    cf_status s = cf_pipeline_run(p, payload_json, out, err);
    t_stream_fn = NULL;
    t_stream_ctx = NULL;
    return s;
}

/* ---------------------------------------------------------------- open/close ---- */

static void close_task(cf_pipeline *p)
{
    tg_state *s = p->state;
    if (!s)
        return;
    cf_tokenizer_free(s->tok);
    cf_causal_lm_free(s->model);
    cf_gen_config_free(&s->base);
    free(s);
    p->state = NULL;
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    tg_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    p->state = s;
    const cJSON *tok_opt = p->options ? cJSON_GetObjectItemCaseSensitive(p->options, "tokenizer") : NULL;
    const char *tok_path = cJSON_IsString(tok_opt) ? tok_opt->valuestring : p->model_dir;
    cf_status st = !cJSON_IsString(tok_opt) && !cf_dir_exists(p->model_dir)
                       ? cf_fail(err, CF_ERR_INVALID_ARG, "%s is a llama2.c checkpoint: give its tokenizer too "
                                 "(--tokenizer tokenizer.bin, or the \"tokenizer\" load option)", p->model_dir)
                       : cf_tokenizer_load_file(tok_path, &s->tok, err);
    if (st == CF_OK)
        st = cf_causal_lm_load(p->model_dir, &p->config, &s->model, err);
    if (st == CF_OK)
        st = cf_gen_config_load(&s->base, p->model_dir, &p->config, "text-generation", err);
    if (st == CF_OK && s->base.pad_token_id < 0 && s->base.eos_token_id.n)
        s->base.pad_token_id = s->base.eos_token_id.ids[0]; /* as the pipeline sets it */
    if (st != CF_OK)
        close_task(p);
    return st;
}

/* ---------------------------------------------------------------- parameters ---- */

typedef struct tg_params {
    bool full_text;
    bool clean_up;
    bool add_special_tokens;
    const char *prefix;
    cf_gen_config gen;
} tg_params;

static cf_status bool_param(const cJSON *v, const char *key, bool *out, cf_error *err)
{
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(v);
    return CF_OK;
}

/* Pipeline keywords first; everything else must be a generation keyword. */
static cf_status read_params(const tg_state *s, const cJSON *params, tg_params *tp, cf_error *err)
{
    tp->full_text = true;
    tp->clean_up = true;
    tp->add_special_tokens = false;
    tp->prefix = "";
    CF_TRY(cf_gen_config_copy(&tp->gen, &s->base, err));
    cJSON *gen = cJSON_CreateObject();
    if (!gen)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status st = CF_OK;
    for (const cJSON *c = params ? params->child : NULL; st == CF_OK && c; c = c->next) {
        const char *k = c->string;
        if (!strcmp(k, "return_full_text"))
            st = bool_param(c, k, &tp->full_text, err);
        else if (!strcmp(k, "clean_up_tokenization_spaces"))
            st = bool_param(c, k, &tp->clean_up, err);
        else if (!strcmp(k, "add_special_tokens"))
            st = bool_param(c, k, &tp->add_special_tokens, err);
        else if (!strcmp(k, "return_text") || !strcmp(k, "return_tensors") || !strcmp(k, "handle_long_generation"))
            st = cJSON_IsNull(c) || cJSON_IsFalse(c) || (!strcmp(k, "return_text") && cJSON_IsTrue(c))
                     ? CF_OK
                     : cf_fail(err, CF_ERR_UNSUPPORTED, "parameter \"%s\" is not supported", k);
        else if (!strcmp(k, "prefix")) {
            if (!cJSON_IsString(c))
                st = cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"prefix\" must be a string");
            else
                tp->prefix = c->valuestring;
        } else if (!strcmp(k, "stop_sequence")) {
            /* Python: the first token of the stop sequence becomes eos_token_id */
            cf_encoding enc = {0};
            cf_encode_options o = cf_encode_options_default();
            o.add_special_tokens = 0;
            if (!cJSON_IsString(c))
                st = cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"stop_sequence\" must be a string");
            else if ((st = cf_tokenizer_encode(s->tok, c->valuestring, &o, &enc, err)) == CF_OK) {
                if (enc.n)
                    cJSON_AddItemToObject(gen, "eos_token_id", cJSON_CreateNumber((double)enc.ids[0]));
                cf_encoding_free(&enc);
            }
        } else if (cf_gen_config_is_key(k))
            cJSON_AddItemToObject(gen, k, cJSON_Duplicate(c, true));
        else
            st = cf_fail(err, CF_ERR_INVALID_ARG, "text-generation: unknown parameter \"%s\"", k);
    }
    if (st == CF_OK)
        st = cf_gen_config_apply_json(&tp->gen, gen, true, "text-generation parameters", err);
    cJSON_Delete(gen);
    if (st != CF_OK)
        cf_gen_config_free(&tp->gen);
    return st;
}

/* ------------------------------------------------------------------ decoding ---- */

/* transformers' clean_up_tokenization (what clean_up_tokenization_spaces=True applies). */
static void clean_up_spaces(char *s)
{
    static const char *const from[] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
    static const char *const to[] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
    for (size_t r = 0; r < sizeof from / sizeof *from; r++) {
        size_t fl = strlen(from[r]), tl = strlen(to[r]);
        char *w = s;
        for (const char *p = s; *p;) {
            if (!strncmp(p, from[r], fl)) {
                memcpy(w, to[r], tl);
                w += tl;
                p += fl;
            } else {
                *w++ = *p++;
            }
        }
        *w = '\0';
    }
}

void cf_clean_up_tokenization(char *s) { clean_up_spaces(s); }

static cf_status decode_text(const tg_state *s, const int64_t *ids, size_t n, bool clean_up, char **out,
                             cf_error *err)
{
    CF_TRY(cf_tokenizer_decode(s->tok, ids, n, 1, out, err));
    if (clean_up)
        clean_up_spaces(*out);
    return CF_OK;
}

static int64_t utf8_length(const char *s)
{
    int64_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The code points of text after the first `skip`. */
static const char *utf8_skip(const char *text, int64_t skip)
{
    const char *p = text;
    for (int64_t i = 0; *p && i < skip; i++) {
        p++;
        while (((unsigned char)*p & 0xC0) == 0x80)
            p++;
    }
    return p;
}

/* -------------------------------------------------------- streaming + stops ---- */

typedef struct stream_ctx {
    const tg_state *s;
    const tg_params *tp;
    int64_t *ids;       /* prompt + new tokens of the streamed sequence */
    int64_t n, cap;
    int64_t prompt_chars; /* len(decode(prompt)) */
    size_t printed;     /* bytes of new text already handed out */
    bool stream;        /* sequence 0 goes to the stream callback */
    int64_t n_seqs;
    int64_t **seq_ids;  /* per sequence history for stop strings */
    int64_t *seq_n;
    int64_t prompt_len;
} stream_ctx;

static bool ends_incomplete(const char *s)
{
    size_t l = strlen(s);
    return l >= 3 && !memcmp(s + l - 3, "\xEF\xBF\xBD", 3); /* U+FFFD: bytes of a character still to come */
}

static bool has_stop(const tg_params *tp, const char *new_text)
{
    for (size_t i = 0; i < tp->gen.n_stop_strings; i++)
        if (strstr(new_text, tp->gen.stop_strings[i]))
            return true;
    return false;
}

static bool on_token(void *p, int64_t seq, int64_t token)
{
    stream_ctx *c = p;
    if (seq >= c->n_seqs)
        return false;
    int64_t *ids = c->seq_ids[seq];
    ids[c->seq_n[seq]++] = token;
    t_tokens_generated++;
    if (seq == 0)
        t_last_token = token;
    bool want_stream = c->stream && seq == 0 && t_stream_fn;
    if (!want_stream && !c->tp->gen.n_stop_strings)
        return false;
    char *text = NULL;
    cf_error err = {0};
    if (decode_text(c->s, ids, (size_t)c->seq_n[seq], c->tp->clean_up, &text, &err) != CF_OK)
        return false;
    const char *new_text = utf8_skip(text, c->prompt_chars);
    bool stop = has_stop(c->tp, new_text);
    if (want_stream && (!ends_incomplete(new_text) || stop)) {
        size_t len = strlen(new_text);
        if (len > c->printed)
            t_stream_fn(t_stream_ctx, new_text + c->printed, len - c->printed);
        if (len > c->printed)
            c->printed = len;
    }
    free(text);
    return stop;
}

/* ------------------------------------------------------------------- running ---- */

static cf_status encode_prompt(const tg_state *s, const tg_params *tp, const char *text, cf_encoding *enc,
                               cf_error *err)
{
    cf_encode_options o = cf_encode_options_default();
    o.add_special_tokens = tp->add_special_tokens;
    char *full = NULL;
    if (tp->prefix[0]) {
        size_t n = strlen(tp->prefix) + strlen(text) + 1;
        if (!(full = malloc(n)))
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        snprintf(full, n, "%s%s", tp->prefix, text);
    }
    cf_status st = cf_tokenizer_encode(s->tok, full ? full : text, &o, enc, err);
    free(full);
    return st;
}

static cf_status run_one(const tg_state *s, const tg_params *tp, const char *text, cJSON **out, cf_error *err)
{
    cf_encoding enc = {0};
    CF_TRY(encode_prompt(s, tp, text, &enc, err));
    if (enc.n == 0) {
        cf_encoding_free(&enc);
        return cf_fail(err, CF_ERR_INVALID_ARG, "text-generation: the prompt is empty after tokenization");
    }
    int64_t plen = (int64_t)enc.n, total = cf_gen_config_max_length(&tp->gen, plen) + 2;
    if (total < plen + 2)
        total = plen + 2;
    int64_t n_seqs = tp->gen.num_beams > 1 ? tp->gen.num_beams : tp->gen.num_return_sequences;
    stream_ctx sc = {.s = s, .tp = tp, .stream = true, .n_seqs = n_seqs, .prompt_len = plen};
    sc.seq_ids = calloc((size_t)n_seqs, sizeof *sc.seq_ids);
    sc.seq_n = calloc((size_t)n_seqs, sizeof *sc.seq_n);
    cf_status st = sc.seq_ids && sc.seq_n ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; st == CF_OK && i < n_seqs; i++) {
        if (!(sc.seq_ids[i] = malloc((size_t)total * sizeof **sc.seq_ids)))
            st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
        else
            memcpy(sc.seq_ids[i], enc.ids, (size_t)plen * sizeof *enc.ids), sc.seq_n[i] = plen;
    }
    char *prompt_text = NULL;
    if (st == CF_OK)
        st = decode_text(s, enc.ids, enc.n, tp->clean_up, &prompt_text, err);
    if (st == CF_OK)
        sc.prompt_chars = utf8_length(prompt_text);
    cf_lm lm = cf_causal_lm_as_lm(s->model);
    const int64_t *prompts[1] = {enc.ids};
    int64_t lens[1] = {plen};
    cf_gen_request req = {.cfg = &tp->gen, .n_inputs = 1, .prompts = prompts, .prompt_lens = lens,
                          .on_token = on_token, .ctx = &sc};
    cf_gen_result res = {0};
    if (st == CF_OK)
        st = cf_generate(&lm, &req, &res, err);
    cJSON *list = st == CF_OK ? cJSON_CreateArray() : NULL;
    for (int64_t i = 0; st == CF_OK && i < res.n_seqs; i++) {
        char *full = NULL;
        st = decode_text(s, res.ids[i], (size_t)res.lens[i], tp->clean_up, &full, err);
        if (st != CF_OK)
            break;
        const char *rest = utf8_skip(full, sc.prompt_chars);
        if (i == 0 && t_stream_fn && strlen(rest) > sc.printed) /* the end: what was held back as incomplete */
            t_stream_fn(t_stream_ctx, rest + sc.printed, strlen(rest) - sc.printed);
        cf_buf b = {0};
        if (tp->full_text)
            cf_buf_puts(&b, text);
        cf_buf_puts(&b, rest);
        cJSON *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "generated_text", b.data ? b.data : "");
        cJSON_AddItemToArray(list, rec);
        cf_buf_free(&b);
        free(full);
    }
    if (st == CF_OK)
        *out = list;
    else
        cJSON_Delete(list);
    cf_gen_result_free(&res);
    free(prompt_text);
    for (int64_t i = 0; sc.seq_ids && i < n_seqs; i++)
        free(sc.seq_ids[i]);
    free(sc.seq_ids);
    free(sc.seq_n);
    cf_encoding_free(&enc);
    return st;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    const tg_state *s = p->state;
    if (params && !cJSON_IsObject(params))
        return cf_fail(err, CF_ERR_INVALID_ARG, "\"parameters\" must be a JSON object");
    tg_params tp;
    CF_TRY(read_params(s, params, &tp, err));
    cf_status st = CF_OK;
    if (cJSON_IsString(inputs)) {
        st = run_one(s, &tp, inputs->valuestring, out, err);
    } else if (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) > 0) {
        cJSON *all = cJSON_CreateArray();
        for (const cJSON *in = inputs->child; st == CF_OK && in; in = in->next) {
            cJSON *one = NULL;
            if (!cJSON_IsString(in))
                st = cf_fail(err, CF_ERR_INVALID_ARG, "text-generation: \"inputs\" must be a string or a list of "
                             "strings (chat messages are not supported)");
            else if ((st = run_one(s, &tp, in->valuestring, &one, err)) == CF_OK)
                cJSON_AddItemToArray(all, one);
        }
        if (st == CF_OK)
            *out = all;
        else
            cJSON_Delete(all);
    } else {
        st = cf_fail(err, CF_ERR_INVALID_ARG, "text-generation: \"inputs\" must be a string or a non-empty list "
                     "of strings");
    }
    cf_gen_config_free(&tp.gen);
    return st;
}

/* ----------------------------------------------------------- default model ---- */

/* gpt2 when the HF cache has it, else the bundled stories260k: $CFORMER_MODELS_DIR, then
 * <exe dir>/../models, <exe dir>/../share/cformer/models, the install prefix. */
cf_status cf_text_generation_default_model(char *out, size_t size, cf_error *err)
{
    cf_error ignored = {0};
    if (cf_model_resolve("gpt2", out, size, &ignored) == CF_OK) {
        fprintf(stderr, "text-generation: no model given, using gpt2 from the Hugging Face cache\n");
        return CF_OK;
    }
    char exe[CF_PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
    }
    const char *env = getenv("CFORMER_MODELS_DIR");
    char candidates[4][CF_PATH_MAX + 64];
    int nc = 0;
    if (env && *env)
        snprintf(candidates[nc++], sizeof candidates[0], "%s/stories260k", env);
    if (exe[0]) {
        snprintf(candidates[nc++], sizeof candidates[0], "%s/../models/stories260k", exe);
        snprintf(candidates[nc++], sizeof candidates[0], "%s/../share/cformer/models/stories260k", exe);
    }
#ifdef CF_INSTALL_MODELS_DIR
    snprintf(candidates[nc++], sizeof candidates[0], "%s/stories260k", CF_INSTALL_MODELS_DIR);
#endif
    for (int i = 0; i < nc; i++) {
        char cfg[CF_PATH_MAX + 96];
        snprintf(cfg, sizeof cfg, "%s/config.json", candidates[i]);
        char real[PATH_MAX];
        if (cf_file_exists(cfg) && realpath(candidates[i], real)) {
            snprintf(out, size, "%s", real);
            fprintf(stderr, "text-generation: no model given and no gpt2 in the Hugging Face cache; using %s\n", out);
            return CF_OK;
        }
    }
    return cf_fail(err, CF_ERR_NOT_FOUND,
                   "text-generation: no model given; gpt2 is not in the Hugging Face cache and the bundled "
                   "models/stories260k was not found (set CFORMER_MODELS_DIR or pass -m MODEL)");
}

const cf_task cf_task_text_generation = {
    .name = "text-generation",
    .aliases = NULL,
    .default_model = "gpt2",
    .open = open_task,
    .run = run,
    .close = close_task,
    .default_model_dir = cf_text_generation_default_model,
};
