/* The tokenizer: tokenizer.json (or a converted legacy folder) assembled into the pipeline
 * added tokens -> normalizer -> pre-tokenizer -> model -> truncation -> post-processor ->
 * padding, and decoding back to text. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/threadpool.h"
#include "tokenizers/convert_llama2c.h"
#include "tokenizers/tokenizer_internal.h"

#define MAX_TOKENIZER_FILE ((size_t)1 << 30)

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory in the tokenizer"); }

cf_encode_options cf_encode_options_default(void)
{
    cf_encode_options o;
    memset(&o, 0, sizeof o);
    o.add_special_tokens = 1;
    return o;
}

/* ------------------------------------------------------------ loading */

static cf_status parse_truncation_padding(cf_tokenizer *tok, const cJSON *doc, cf_error *err)
{
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(doc, "truncation");
    if (cJSON_IsObject(tr)) {
        const char *w = "tokenizer.json truncation";
        int64_t max_length = 0, stride = 0;
        CF_TRY(cf_json_int(tr, "max_length", w, &max_length, err));
        CF_TRY(cf_json_int(tr, "stride", w, &stride, err));
        const char *strategy = "LongestFirst";
        CF_TRY(cf_json_string(tr, "strategy", w, &strategy, err));
        tok->defaults.truncation = !strcmp(strategy, "OnlyFirst")    ? CF_TRUNCATE_ONLY_FIRST
                                   : !strcmp(strategy, "OnlySecond") ? CF_TRUNCATE_ONLY_SECOND
                                                                     : CF_TRUNCATE_LONGEST_FIRST;
        tok->defaults.max_length = max_length;
        tok->defaults.stride = stride;
    }
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(doc, "padding");
    if (cJSON_IsObject(pad)) {
        const char *w = "tokenizer.json padding";
        const cJSON *strategy = cJSON_GetObjectItemCaseSensitive(pad, "strategy");
        const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(strategy, "Fixed");
        if (cJSON_IsNumber(fixed)) {
            tok->defaults.padding = CF_PAD_MAX_LENGTH;
            tok->defaults.max_length = (int64_t)fixed->valuedouble;
        } else {
            tok->defaults.padding = CF_PAD_LONGEST;
        }
        const char *dir = NULL, *pad_token = NULL;
        CF_TRY(cf_json_string(pad, "direction", w, &dir, err));
        tok->defaults.pad_left = dir && !strcmp(dir, "Left");
        CF_TRY(cf_json_int(pad, "pad_to_multiple_of", w, &tok->defaults.pad_to_multiple_of, err));
        CF_TRY(cf_json_int(pad, "pad_id", w, &tok->pad_id, err));
        CF_TRY(cf_json_int(pad, "pad_type_id", w, &tok->pad_type_id, err));
        CF_TRY(cf_json_string(pad, "pad_token", w, &pad_token, err));
        if (pad_token && !(tok->pad_token = strdup(pad_token)))
            return oom(err);
    }
    return CF_OK;
}

static size_t count_vocab(const cf_tokenizer *tok)
{
    size_t n = tok->model.vocab.count;
    for (size_t i = 0; i < tok->added.n; i++)
        if (cf_vocab_find(&tok->model.vocab, tok->added.v[i].content, strlen(tok->added.v[i].content)) < 0)
            n++;
    return n;
}

cf_status cf_tokenizer_from_json(const cJSON *doc, const char *where, cf_tokenizer **out, cf_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(doc))
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a JSON object", where);
    cf_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return oom(err);
    tok->defaults = cf_encode_options_default();
    cf_status st = CF_OK;
    const cJSON *j;
    if (st == CF_OK && (j = cJSON_GetObjectItemCaseSensitive(doc, "normalizer")) && !cJSON_IsNull(j)) {
        st = cf_normalizer_parse(j, &tok->normalizer, err);
        tok->has_normalizer = true;
    }
    if (st == CF_OK && (j = cJSON_GetObjectItemCaseSensitive(doc, "pre_tokenizer")) && !cJSON_IsNull(j)) {
        st = cf_pretokenizer_parse(j, &tok->pretok, err);
        tok->has_pretok = true;
    }
    if (st == CF_OK) {
        j = cJSON_GetObjectItemCaseSensitive(doc, "model");
        st = j ? cf_model_parse(j, &tok->model, err) : cf_fail(err, CF_ERR_FORMAT, "%s: no \"model\"", where);
    }
    if (st == CF_OK && (j = cJSON_GetObjectItemCaseSensitive(doc, "post_processor")) && !cJSON_IsNull(j)) {
        st = cf_post_parse(j, &tok->post, err);
        tok->has_post = true;
    }
    if (st == CF_OK && (j = cJSON_GetObjectItemCaseSensitive(doc, "decoder")) && !cJSON_IsNull(j)) {
        st = cf_decoder_parse(j, &tok->decoder, err);
        tok->has_decoder = true;
    }
    if (st == CF_OK)
        st = cf_added_parse(cJSON_GetObjectItemCaseSensitive(doc, "added_tokens"), &tok->added, err);
    /* An added token whose text the model knows takes the model's id. */
    for (size_t i = 0; st == CF_OK && i < tok->added.n; i++) {
        int64_t id = cf_vocab_find(&tok->model.vocab, tok->added.v[i].content, strlen(tok->added.v[i].content));
        if (id >= 0)
            tok->added.v[i].id = id;
    }
    if (st == CF_OK)
        st = cf_added_build(&tok->added, tok->has_normalizer ? &tok->normalizer : NULL, err);
    if (st == CF_OK)
        st = parse_truncation_padding(tok, doc, err);
    if (st != CF_OK) {
        cf_error_prefix(err, "%s: ", where);
        cf_tokenizer_free(tok);
        return st;
    }
    tok->vocab_size = count_vocab(tok);
    tok->fast = cf_fast_kind_of(&tok->pretok, tok->has_pretok, &tok->model);
    *out = tok;
    return CF_OK;
}

static cf_status read_json_if_present(const char *dir, const char *name, cJSON **out, cf_error *err)
{
    *out = NULL;
    char path[4096];
    CF_TRY(cf_path_join(path, sizeof path, dir, name, err));
    if (!cf_file_exists(path))
        return CF_OK;
    char *text;
    size_t len;
    CF_TRY(cf_read_file(path, MAX_TOKENIZER_FILE, &text, &len, err));
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*out)
        return cf_fail(err, CF_ERR_FORMAT, "%s: not valid JSON", path);
    return CF_OK;
}

cf_status cf_tokenizer_read_config(cf_tokenizer *tok, const char *dir, cf_error *err)
{
    cJSON *cfg = NULL, *map = NULL;
    CF_TRY(read_json_if_present(dir, "tokenizer_config.json", &cfg, err));
    cf_status st = read_json_if_present(dir, "special_tokens_map.json", &map, err);
    if (st != CF_OK) {
        cJSON_Delete(cfg);
        return st;
    }
    static const char *names[] = {"bos_token", "eos_token", "pad_token", "mask_token", "cls_token", "sep_token",
                                  "unk_token"};
    char **slots[] = {&tok->roles.bos, &tok->roles.eos, &tok->roles.pad, &tok->roles.mask,
                      &tok->roles.cls, &tok->roles.sep, &tok->roles.unk};
    for (size_t i = 0; i < 7; i++) {
        const char *v = cf_json_token_text(cJSON_GetObjectItemCaseSensitive(map, names[i]));
        if (!v)
            v = cf_json_token_text(cJSON_GetObjectItemCaseSensitive(cfg, names[i]));
        if (v && !(*slots[i] = strdup(v)))
            st = oom(err);
    }
    const cJSON *mml = cJSON_GetObjectItemCaseSensitive(cfg, "model_max_length");
    if (cJSON_IsNumber(mml) && mml->valuedouble > 0 && mml->valuedouble < 1e15)
        tok->model_max_length = (int64_t)mml->valuedouble;
    const cJSON *cu = cJSON_GetObjectItemCaseSensitive(cfg, "clean_up_tokenization_spaces");
    tok->clean_up_tokenization_spaces = cu ? cJSON_IsTrue(cu) : true;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
    if (cJSON_IsString(cls) && !(tok->tokenizer_class = strdup(cls->valuestring)))
        st = oom(err);
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(cfg, "padding_side");
    if (cJSON_IsString(side) && !strcmp(side->valuestring, "left"))
        tok->defaults.pad_left = 1;
    if (!tok->pad_token && tok->roles.pad) {
        int64_t id = cf_tokenizer_token_to_id(tok, tok->roles.pad);
        if (id >= 0) {
            tok->pad_id = id;
            if (!(tok->pad_token = strdup(tok->roles.pad)))
                st = oom(err);
        }
    }
    cJSON_Delete(cfg);
    cJSON_Delete(map);
    return st;
}

static cf_status load_json_file(const char *path, cJSON **out, cf_error *err)
{
    char *text;
    size_t len;
    CF_TRY(cf_read_file(path, MAX_TOKENIZER_FILE, &text, &len, err));
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!*out)
        return cf_fail(err, CF_ERR_FORMAT, "%s: not valid JSON (error near byte %zu)", path, at);
    return CF_OK;
}

cf_status cf_tokenizer_load(const char *dir, cf_tokenizer **out, cf_error *err)
{
    *out = NULL;
    if (!dir)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cf_tokenizer_load: no folder given");
    char path[4096];
    CF_TRY(cf_path_join(path, sizeof path, dir, "tokenizer.json", err));
    if (!cf_file_exists(path))
        return cf_tokenizer_load_legacy(dir, out, err);
    cJSON *doc;
    CF_TRY(load_json_file(path, &doc, err));
    cf_status st = cf_tokenizer_from_json(doc, path, out, err);
    cJSON_Delete(doc);
    if (st == CF_OK && (st = cf_tokenizer_read_config(*out, dir, err)) != CF_OK) {
        cf_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A tokenizer.json file, with the configs of the folder it is in. */
static cf_status load_json_path(const char *path, cf_tokenizer **out, cf_error *err)
{
    cJSON *doc;
    CF_TRY(load_json_file(path, &doc, err));
    cf_status st = cf_tokenizer_from_json(doc, path, out, err);
    cJSON_Delete(doc);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (st == CF_OK && (st = cf_tokenizer_read_config(*out, dir, err)) != CF_OK) {
        cf_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

/* A llama2.c tokenizer: its special tokens are sentencepiece's, and it never cleans up spaces. */
static cf_status load_llama2c(const char *path, cf_tokenizer **out, cf_error *err)
{
    cJSON *doc;
    CF_TRY(cf_llama2c_tokenizer_convert(path, &doc, err));
    cf_status st = cf_tokenizer_from_json(doc, path, out, err);
    cJSON_Delete(doc);
    if (st != CF_OK)
        return st;
    cf_tokenizer *tok = *out;
    const struct {
        char **slot;
        const char *text;
    } roles[] = {{&tok->roles.bos, "<s>"}, {&tok->roles.eos, "</s>"}, {&tok->roles.unk, "<unk>"}};
    for (size_t i = 0; i < sizeof roles / sizeof *roles; i++)
        if (cf_tokenizer_token_to_id(tok, roles[i].text) >= 0 && !(*roles[i].slot = strdup(roles[i].text))) {
            cf_tokenizer_free(tok);
            *out = NULL;
            return oom(err);
        }
    tok->clean_up_tokenization_spaces = false;
    return CF_OK;
}

cf_status cf_tokenizer_load_file(const char *path, cf_tokenizer **out, cf_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cf_tokenizer_load_file: no path given");
    if (cf_dir_exists(path))
        return cf_tokenizer_load(path, out, err);
    if (!cf_file_exists(path))
        return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no such tokenizer file or folder", path);
    if (has_suffix(path, ".json"))
        return load_json_path(path, out, err);
    if (has_suffix(path, ".model") || has_suffix(path, ".spm"))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: give the folder that holds this sentencepiece model (its "
                       "tokenizer_config.json decides how it is read)", path);
    return load_llama2c(path, out, err);
}

void cf_tokenizer_free(cf_tokenizer *tok)
{
    if (!tok)
        return;
    if (tok->has_normalizer)
        cf_normalizer_free(&tok->normalizer);
    if (tok->has_pretok)
        cf_pretokenizer_free(&tok->pretok);
    cf_model_free(&tok->model);
    if (tok->has_post)
        cf_post_free(&tok->post);
    if (tok->has_decoder)
        cf_decoder_free(&tok->decoder);
    cf_added_free(&tok->added);
    free(tok->pad_token);
    char **roles[] = {&tok->roles.bos, &tok->roles.eos, &tok->roles.pad, &tok->roles.mask,
                      &tok->roles.cls, &tok->roles.sep, &tok->roles.unk};
    for (size_t i = 0; i < 7; i++)
        free(*roles[i]);
    free(tok->tokenizer_class);
    free(tok);
}

/* ------------------------------------------------------------ vocabulary access */

int64_t cf_tokenizer_token_to_id(const cf_tokenizer *tok, const char *token)
{
    if (!tok || !token)
        return -1;
    int64_t k = cf_vocab_find(&tok->added.by_content, token, strlen(token));
    if (k >= 0)
        return tok->added.v[k].id;
    return cf_vocab_find(&tok->model.vocab, token, strlen(token));
}

const char *cf_tokenizer_id_to_token(const cf_tokenizer *tok, int64_t id)
{
    if (!tok)
        return NULL;
    const cf_added_token *t = cf_added_find_id(&tok->added, id);
    if (t)
        return t->content;
    return cf_vocab_token(&tok->model.vocab, id);
}

size_t cf_tokenizer_vocab_size(const cf_tokenizer *tok) { return tok ? tok->vocab_size : 0; }

static const char *role_text(const cf_tokenizer *tok, const char *role)
{
    if (!tok || !role)
        return NULL;
    const struct {
        const char *name;
        const char *value;
    } map[] = {{"bos_token", tok->roles.bos}, {"eos_token", tok->roles.eos},   {"pad_token", tok->roles.pad},
               {"mask_token", tok->roles.mask}, {"cls_token", tok->roles.cls}, {"sep_token", tok->roles.sep},
               {"unk_token", tok->roles.unk}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i].name, role))
            return map[i].value;
    return NULL;
}

const char *cf_tokenizer_special_token(const cf_tokenizer *tok, const char *role) { return role_text(tok, role); }

int64_t cf_tokenizer_special_id(const cf_tokenizer *tok, const char *role)
{
    const char *t = role_text(tok, role);
    return t ? cf_tokenizer_token_to_id(tok, t) : -1;
}

int64_t cf_tokenizer_model_max_length(const cf_tokenizer *tok) { return tok ? tok->model_max_length : 0; }

const char *cf_tokenizer_continuing_subword_prefix(const cf_tokenizer *tok)
{
    if (!tok || (tok->model.kind != CF_MODEL_WORDPIECE && tok->model.kind != CF_MODEL_BPE))
        return NULL;
    return tok->model.continuing_subword_prefix;
}

int cf_tokenizer_is_special_id(const cf_tokenizer *tok, int64_t id)
{
    const cf_added_token *t = tok ? cf_added_find_id(&tok->added, id) : NULL;
    return t && t->special;
}

int cf_tokenizer_pads_left(const cf_tokenizer *tok) { return tok && tok->defaults.pad_left; }

size_t cf_tokenizer_num_special_tokens_to_add(const cf_tokenizer *tok, int is_pair)
{
    return tok && tok->has_post ? cf_post_added_tokens(&tok->post, is_pair != 0) : 0;
}

/* ------------------------------------------------------------ encoding */

/* Byte offset -> char index of the caller's string (BytesToCharOffsetConverter). */
typedef struct char_map {
    uint32_t *ci; /* NULL when the text is ASCII: bytes are chars */
    size_t len;
} char_map;

static cf_status char_map_build(char_map *m, const char *s, size_t len, cf_error *err)
{
    m->len = len;
    m->ci = NULL;
    size_t i = 0;
    while (i < len && (unsigned char)s[i] < 0x80)
        i++;
    if (i == len)
        return CF_OK;
    m->ci = malloc((len ? len : 1) * sizeof *m->ci);
    if (!m->ci)
        return oom(err);
    uint32_t c = 0;
    for (size_t b = 0; b < len; b++) {
        if (b > 0 && ((unsigned char)s[b] & 0xC0) != 0x80)
            c++;
        m->ci[b] = c;
    }
    return CF_OK;
}

static void char_map_convert(const char_map *m, size_t start, size_t end, int64_t *cs, int64_t *ce)
{
    if (start >= m->len) { /* not in the map: left as it is */
        *cs = (int64_t)start;
        *ce = (int64_t)end;
        return;
    }
    size_t s = m->ci ? m->ci[start] : start;
    *cs = (int64_t)s;
    if (end < m->len)
        *ce = (int64_t)(m->ci ? m->ci[end] : end);
    else if (end >= 1 && end - 1 < m->len)
        *ce = (int64_t)(m->ci ? m->ci[end - 1] : end - 1) + 1;
    else
        *ce = (int64_t)s + 1;
}

/* The model's tokens for one split. */
static cf_status tokenize_split(const cf_tokenizer *tok, cf_split *sp, cf_error *err)
{
    CF_TRY(cf_model_tokenize(&tok->model, sp->ns.text, sp->ns.len, &sp->toks, err));
    sp->tokenized = true;
    if (tok->model.kind != CF_MODEL_UNIGRAM || tok->model.unigram_mapped)
        return CF_OK;
    /* Unigram tokens are the text they cover (an unknown piece keeps its text); a mapped
     * model's are its vocabulary's strings, as the slow tokenizer converts ids back. */
    size_t total = 0;
    for (size_t k = 0; k < sp->toks.n; k++)
        total += sp->toks.v[k].end - sp->toks.v[k].start + 1;
    if (!(sp->values = malloc(total + 1)))
        return oom(err);
    char *w = sp->values;
    for (size_t k = 0; k < sp->toks.n; k++) {
        size_t l = sp->toks.v[k].end - sp->toks.v[k].start;
        memcpy(w, sp->ns.text + sp->toks.v[k].start, l);
        w[l] = '\0';
        w += l + 1;
    }
    return CF_OK;
}

/* Replace split i by what the pre-tokenizer makes of it; *n gets the number of pieces. */
static cf_status pretokenize_one(const cf_tokenizer *tok, cf_pretokenized *pre, size_t i, size_t *n, cf_error *err)
{
    cf_pretokenized one = {pre->original, pre->original_len, NULL, 0, 0};
    cf_status st = cf_pretokenized_push(&one, &pre->v[i].ns, err);
    if (st == CF_OK)
        st = cf_pretokenizer_apply(&tok->pretok, &one, err);
    size_t need = pre->n - 1 + one.n;
    if (st == CF_OK && need > pre->cap) {
        cf_split *v = realloc(pre->v, need * sizeof *v);
        if (!v)
            st = oom(err);
        else {
            pre->v = v;
            pre->cap = need;
        }
    }
    if (st != CF_OK) {
        cf_pretokenized_free(&one);
        return st;
    }
    cf_split gone = pre->v[i];
    memmove(pre->v + i + one.n, pre->v + i + 1, (pre->n - i - 1) * sizeof *pre->v);
    memcpy(pre->v + i, one.v, one.n * sizeof *one.v);
    pre->n = need;
    free(gone.toks.v);
    free(gone.values);
    free(one.v);
    *n = one.n;
    return CF_OK;
}

/* Pre-tokenize and tokenize every split, through the direct word paths where they apply
 * (see fast_words.c) and the general pre-tokenizer elsewhere; the same splits, words and
 * early exit (token_limit) as the general path. *n_splits: how many splits to keep. */
static cf_status tokenize_fast(const cf_tokenizer *tok, cf_pretokenized *pre, size_t token_limit, size_t *n_splits,
                               cf_error *err)
{
    size_t n_tokens = 0, word = 0;
    for (size_t i = 0; i < pre->n; i++) {
        cf_split *sp = &pre->v[i];
        sp->first_word = word;
        bool stopped = false;
        if (sp->tokenized) {
            word++;
        } else {
            size_t n_words = 0;
            bool handled;
            CF_TRY(cf_fast_tokenize_split(tok, &sp->ns, token_limit ? token_limit - n_tokens : 0, &sp->toks, &n_words,
                                          &handled, &stopped, err));
            if (handled) {
                sp->tokenized = true;
                word += n_words;
            } else {
                size_t n;
                CF_TRY(pretokenize_one(tok, pre, i, &n, err));
                for (size_t k = i; k < i + n && !stopped; k++) {
                    pre->v[k].first_word = word++;
                    CF_TRY(tokenize_split(tok, &pre->v[k], err));
                    n_tokens += pre->v[k].toks.n;
                    if (token_limit && n_tokens >= token_limit) {
                        *n_splits = k + 1;
                        return CF_OK;
                    }
                }
                i += n - 1;
                continue;
            }
        }
        n_tokens += sp->toks.n;
        if (stopped || (token_limit && n_tokens >= token_limit)) {
            *n_splits = i + 1;
            return CF_OK;
        }
    }
    *n_splits = pre->n;
    return CF_OK;
}

/* One sequence through added tokens, normalizer, pre-tokenizer and model. The pieces stay in
 * `pre` (token strings may point into them) until the encoding is finalized.
 * A nonzero `token_limit` is the early exit of right-side truncation (tokenizers >= 0.23.1,
 * PreTokenizedString::tokenize_with_limit): the pre-tokenized splits are tokenized in order
 * and the ones after the split that brings the count to `token_limit` are dropped, so the
 * overflowing windows only cover that prefix. */
static cf_status encode_sequence(const cf_tokenizer *tok, const char *text, int64_t type_id, size_t token_limit,
                                 cf_pretokenized *pre, cf_enc *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(text);
    size_t bad = cf_utf8_invalid_at(text, len);
    if (bad != len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "text is not valid UTF-8: bad byte 0x%02X at byte offset %zu",
                       (unsigned char)text[bad], bad);
    CF_TRY(cf_added_extract_and_normalize(&tok->added, tok->has_normalizer ? &tok->normalizer : NULL, text, len,
                                          pre, err));
    size_t n_splits;
    if (tok->fast != CF_FAST_NONE) {
        CF_TRY(tokenize_fast(tok, pre, token_limit, &n_splits, err));
    } else {
        if (tok->has_pretok)
            CF_TRY(cf_pretokenizer_apply(&tok->pretok, pre, err));
        size_t n_tokens = 0;
        n_splits = pre->n;
        for (size_t i = 0; i < n_splits; i++) {
            cf_split *sp = &pre->v[i];
            sp->first_word = i;
            if (!sp->tokenized)
                CF_TRY(tokenize_split(tok, sp, err));
            n_tokens += sp->toks.n;
            if (token_limit && n_tokens >= token_limit)
                n_splits = i + 1;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < n_splits; i++)
        total += pre->v[i].toks.n;
    if (!cf_enc_reserve(out, total))
        return oom(err);
    char_map cm;
    CF_TRY(char_map_build(&cm, text, len, err));
    cf_status st = CF_OK;
    for (size_t i = 0; i < n_splits && st == CF_OK; i++) {
        cf_split *sp = &pre->v[i];
        const char *value_at = sp->values;
        for (size_t k = 0; k < sp->toks.n && st == CF_OK; k++) {
            const cf_tok *t = &sp->toks.v[k];
            size_t os, oe;
            cf_normalized_original_range(&sp->ns, t->start, t->end, &os, &oe);
            int64_t cs, ce;
            char_map_convert(&cm, os, oe, &cs, &ce);
            /* An added token's value is the text it matched. */
            const char *value = sp->added    ? sp->ns.text
                                : sp->values ? value_at
                                             : cf_vocab_token(&tok->model.vocab, t->id);
            if (sp->values)
                value_at += t->end - t->start + 1;
            if (!value)
                value = "";
            if (!cf_enc_push(out, t->id, type_id, value, cs, ce, 0, (int64_t)(sp->first_word + t->word)))
                st = oom(err);
        }
    }
    free(cm.ci);
    return st;
}

typedef struct encode_job {
    cf_pretokenized pre[2];
    cf_enc enc;
} encode_job;

static void job_free(encode_job *j)
{
    cf_pretokenized_free(&j->pre[0]);
    cf_pretokenized_free(&j->pre[1]);
    cf_enc_free(&j->enc);
}

/* Encode + truncate + post-process (no padding yet). */
static cf_status encode_unpadded(const cf_tokenizer *tok, const char *text, const char *pair,
                                 const cf_encode_options *opt, encode_job *job, cf_error *err)
{
    memset(job, 0, sizeof *job);
    if (!text)
        return cf_fail(err, CF_ERR_INVALID_ARG, "encode: text is NULL");
    cf_enc a = {0}, b = {0};
    bool truncating = opt->truncation != CF_TRUNCATE_NONE && opt->max_length > 0;
    size_t token_limit = truncating ? (size_t)opt->max_length : 0;
    cf_status st = encode_sequence(tok, text, 0, token_limit, &job->pre[0], &a, err);
    if (st == CF_OK && pair)
        st = encode_sequence(tok, pair, 1, token_limit, &job->pre[1], &b, err);
    bool add_special = opt->add_special_tokens != 0;
    if (st == CF_OK && truncating) {
        size_t n_added = add_special && tok->has_post ? cf_post_added_tokens(&tok->post, pair != NULL) : 0;
        if ((size_t)opt->max_length < n_added)
            st = cf_fail(err, CF_ERR_INVALID_ARG, "max_length %lld is smaller than the %zu special tokens added",
                         (long long)opt->max_length, n_added);
        else if (opt->stride < 0)
            st = cf_fail(err, CF_ERR_INVALID_ARG, "stride must be >= 0, got %lld", (long long)opt->stride);
        else
            st = cf_truncate_pair(&a, pair ? &b : NULL, opt->truncation, (size_t)opt->max_length - n_added,
                                  (size_t)opt->stride, false, err);
    }
    if (st == CF_OK) {
        if (tok->has_post)
            st = cf_post_process(&tok->post, &a, pair ? &b : NULL, add_special, &job->enc, err);
        else
            st = cf_post_default(&a, pair ? &b : NULL, &job->enc, err);
    }
    cf_enc_free(&a);
    cf_enc_free(&b);
    if (st == CF_OK && !opt->return_overflowing) {
        for (size_t i = 0; i < job->enc.n_over; i++)
            cf_enc_free(&job->enc.over[i]);
        free(job->enc.over);
        job->enc.over = NULL;
        job->enc.n_over = 0;
    }
    return st;
}

static size_t pad_target(const cf_encode_options *opt, size_t longest)
{
    size_t target = opt->padding == CF_PAD_MAX_LENGTH && opt->max_length > 0 ? (size_t)opt->max_length : longest;
    if (opt->pad_to_multiple_of > 0 && target % (size_t)opt->pad_to_multiple_of)
        target += (size_t)opt->pad_to_multiple_of - target % (size_t)opt->pad_to_multiple_of;
    return target;
}

static cf_status pad_job(const cf_tokenizer *tok, const cf_encode_options *opt, encode_job *job, size_t target,
                         cf_error *err)
{
    if (opt->padding == CF_PAD_NONE)
        return CF_OK;
    const char *pad_token = tok->pad_token;
    if (!pad_token)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "padding was requested but the tokenizer has no pad token (tokenizer.json padding or special_tokens_map.json pad_token)");
    return cf_enc_pad(&job->enc, target, tok->pad_id, tok->pad_type_id, pad_token, opt->pad_left != 0, err);
}

static size_t longest_of(const cf_enc *e)
{
    size_t n = e->n;
    for (size_t i = 0; i < e->n_over; i++)
        n = e->over[i].n > n ? e->over[i].n : n;
    return n;
}

cf_status cf_tokenizer_encode_pair(const cf_tokenizer *tok, const char *text, const char *pair,
                                   const cf_encode_options *opt, cf_encoding *out, cf_error *err)
{
    if (!out)
        return cf_fail(err, CF_ERR_INVALID_ARG, "encode: no output encoding");
    memset(out, 0, sizeof *out);
    if (!tok)
        return cf_fail(err, CF_ERR_INVALID_ARG, "encode: no tokenizer");
    const cf_encode_options *o = opt ? opt : &tok->defaults;
    encode_job job;
    cf_status st = encode_unpadded(tok, text, pair, o, &job, err);
    if (st == CF_OK)
        st = pad_job(tok, o, &job, pad_target(o, longest_of(&job.enc)), err);
    if (st == CF_OK)
        st = cf_enc_finalize(&job.enc, out, err);
    job_free(&job);
    if (st != CF_OK)
        cf_encoding_free(out);
    return st;
}

cf_status cf_tokenizer_encode(const cf_tokenizer *tok, const char *text, const cf_encode_options *opt,
                              cf_encoding *out, cf_error *err)
{
    return cf_tokenizer_encode_pair(tok, text, NULL, opt, out, err);
}

/* One batch item per index; the lowest failing index keeps its message. */
typedef struct batch_ctx {
    const cf_tokenizer *tok;
    const char *const *texts, *const *pairs;
    const cf_encode_options *opt;
    encode_job *jobs;
    pthread_mutex_t lock;
    size_t first_failed; /* n when none */
    cf_error err;
} batch_ctx;

static void encode_range(void *ctx, int64_t begin, int64_t end)
{
    batch_ctx *b = ctx;
    for (int64_t i = begin; i < end; i++) {
        cf_error e = {0};
        if (encode_unpadded(b->tok, b->texts[i], b->pairs ? b->pairs[i] : NULL, b->opt, &b->jobs[i], &e) == CF_OK)
            continue;
        pthread_mutex_lock(&b->lock);
        if ((size_t)i < b->first_failed) {
            b->first_failed = (size_t)i;
            b->err = e;
        }
        pthread_mutex_unlock(&b->lock);
        return;
    }
}

cf_status cf_tokenizer_encode_batch(const cf_tokenizer *tok, const char *const *texts, const char *const *pairs,
                                    size_t n, const cf_encode_options *opt, cf_encoding *out, cf_error *err)
{
    if (!tok || (!texts && n) || (!out && n))
        return cf_fail(err, CF_ERR_INVALID_ARG, "encode_batch: missing tokenizer, texts or outputs");
    const cf_encode_options *o = opt ? opt : &tok->defaults;
    encode_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!jobs)
        return oom(err);
    memset(out, 0, n * sizeof *out);
    batch_ctx b = {.tok = tok, .texts = texts, .pairs = pairs, .opt = o, .jobs = jobs, .first_failed = n};
    pthread_mutex_init(&b.lock, NULL);
    cf_parallel_for((int64_t)n, 1, encode_range, &b);
    pthread_mutex_destroy(&b.lock);
    cf_status st = CF_OK;
    if (b.first_failed < n) {
        st = b.err.status;
        if (err) {
            *err = b.err;
            cf_error_prefix(err, "batch item %zu: ", b.first_failed);
        }
    }
    size_t longest = 0;
    for (size_t i = 0; i < n && st == CF_OK; i++)
        if (longest_of(&jobs[i].enc) > longest)
            longest = longest_of(&jobs[i].enc);
    size_t target = pad_target(o, longest);
    for (size_t i = 0; i < n && st == CF_OK; i++) {
        st = pad_job(tok, o, &jobs[i], target, err);
        if (st == CF_OK)
            st = cf_enc_finalize(&jobs[i].enc, &out[i], err);
    }
    for (size_t i = 0; i < n; i++) {
        job_free(&jobs[i]);
        if (st != CF_OK)
            cf_encoding_free(&out[i]);
    }
    free(jobs);
    return st;
}

/* ------------------------------------------------------------ decoding */

/* The decoder over `tokens` (owned, freed here), joined into one string; without a decoder the
 * tokens are joined with `sep`. */
static cf_status decode_tokens(const cf_tokenizer *tok, char **tokens, size_t k, const char *sep, char **out,
                               cf_error *err)
{
    cf_status st = CF_OK;
    if (tok->has_decoder)
        st = cf_decoder_apply(&tok->decoder, &tokens, &k, err);
    cf_buf b = {0};
    for (size_t i = 0; i < k && st == CF_OK; i++)
        if ((!tok->has_decoder && i > 0 && !cf_buf_puts(&b, sep)) || !cf_buf_puts(&b, tokens[i]))
            st = oom(err);
    for (size_t i = 0; i < k; i++)
        free(tokens[i]);
    free(tokens);
    if (st == CF_OK && !b.data && !cf_buf_puts(&b, ""))
        st = oom(err);
    if (st != CF_OK) {
        cf_buf_free(&b);
        return st;
    }
    *out = cf_buf_steal(&b);
    return CF_OK;
}

cf_status cf_tokenizer_decode(const cf_tokenizer *tok, const int64_t *ids, size_t n, int skip_special_tokens,
                              char **out, cf_error *err)
{
    *out = NULL;
    if (!tok || (!ids && n))
        return cf_fail(err, CF_ERR_INVALID_ARG, "decode: missing tokenizer or ids");
    char **tokens = calloc(n ? n : 1, sizeof *tokens);
    if (!tokens)
        return oom(err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const cf_added_token *a = cf_added_find_id(&tok->added, ids[i]);
        const char *t = a ? a->content : cf_vocab_token(&tok->model.vocab, ids[i]);
        if (!t || (skip_special_tokens && a && a->special))
            continue;
        if (!(tokens[k++] = strdup(t))) {
            for (size_t j = 0; j < k; j++)
                free(tokens[j]);
            free(tokens);
            return oom(err);
        }
    }
    return decode_tokens(tok, tokens, k, " ", out, err);
}

cf_status cf_tokenizer_tokens_to_string(const cf_tokenizer *tok, const char *const *tokens, size_t n, char **out,
                                        cf_error *err)
{
    *out = NULL;
    if (!tok || (!tokens && n))
        return cf_fail(err, CF_ERR_INVALID_ARG, "tokens_to_string: missing tokenizer or tokens");
    char **copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy)
        return oom(err);
    for (size_t i = 0; i < n; i++)
        if (!tokens[i] || !(copy[i] = strdup(tokens[i]))) {
            for (size_t j = 0; j < i; j++)
                free(copy[j]);
            free(copy);
            return tokens[i] ? oom(err) : cf_fail(err, CF_ERR_INVALID_ARG, "tokens_to_string: token %zu is NULL", i);
        }
    return decode_tokens(tok, copy, n, "", out, err);
}
