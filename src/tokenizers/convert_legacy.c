/* Legacy folders without tokenizer.json, converted the way transformers' convert_slow_tokenizer
 * does it: build the equivalent tokenizer.json document, then load it like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizers/tokenizer_internal.h"

#include "tokenizers/convert_spm.h"

#define MAX_LEGACY_FILE ((size_t)1 << 30)

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory converting a legacy tokenizer"); }

static cf_status read_text(const char *dir, const char *name, char **text, size_t *len, cf_error *err)
{
    char path[4096];
    CF_TRY(cf_path_join(path, sizeof path, dir, name, err));
    return cf_read_file(path, MAX_LEGACY_FILE, text, len, err);
}

static cf_status read_json(const char *dir, const char *name, bool required, cJSON **out, cf_error *err)
{
    *out = NULL;
    char path[4096];
    CF_TRY(cf_path_join(path, sizeof path, dir, name, err));
    if (!cf_file_exists(path))
        return required ? cf_fail(err, CF_ERR_NOT_FOUND, "%s: file not found", path) : CF_OK;
    char *text;
    size_t len;
    CF_TRY(cf_read_file(path, MAX_LEGACY_FILE, &text, &len, err));
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    return *out ? CF_OK : cf_fail(err, CF_ERR_FORMAT, "%s: not valid JSON", path);
}

/* The line at *cursor (before end), cut in place: its newline becomes NUL, its length goes to
 * *len and *cursor moves past it. */
static char *cut_line(char **cursor, char *end, size_t *len)
{
    char *line = *cursor;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    *len = nl ? (size_t)(nl - line) : (size_t)(end - line);
    line[*len] = '\0';
    *cursor = line + *len + 1;
    return line;
}

static bool has_file(const char *dir, const char *name)
{
    char path[4096];
    return cf_path_join(path, sizeof path, dir, name, NULL) == CF_OK && cf_file_exists(path);
}

/* The tokenizer.json built from the legacy files into *out when st is CF_OK, else dropped;
 * returns st. */
static cf_status hand_over(cJSON *doc, cf_status st, cJSON **out)
{
    if (st != CF_OK) {
        cJSON_Delete(doc);
        return st;
    }
    *out = doc;
    return CF_OK;
}

/* ------------------------------------------------------------ special and added tokens */

/* The special token named `role` (e.g. "cls_token"), from special_tokens_map.json then
 * tokenizer_config.json, else `fallback`. Returns the JSON describing it (string or dict) or NULL. */
static const cJSON *special_entry(const cJSON *map, const cJSON *config, const char *role)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, role);
    if (cf_json_token_text(v))
        return v;
    v = cJSON_GetObjectItemCaseSensitive(config, role);
    return cf_json_token_text(v) ? v : NULL;
}

typedef struct added_list {
    cJSON *arr;        /* the "added_tokens" array being built */
    cf_vocab seen;     /* content -> index */
    const cf_vocab *vocab;
    int64_t next_id;
} added_list;

static bool flag(const cJSON *entry, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Adds a token unless present; id: the given one, else the vocabulary's, else the next free. */
static cf_status add_token(added_list *al, const char *content, int64_t id, const cJSON *flags, bool special,
                           cf_error *err)
{
    if (!content || !*content || cf_vocab_find(&al->seen, content, strlen(content)) >= 0)
        return CF_OK;
    int64_t vid = cf_vocab_find(al->vocab, content, strlen(content));
    if (vid >= 0)
        id = vid;
    if (id < 0)
        id = al->next_id;
    if (id >= al->next_id)
        al->next_id = id + 1;
    cJSON *t = cJSON_CreateObject();
    if (!t)
        return oom(err);
    cJSON_AddItemToArray(al->arr, t);
    cJSON_AddNumberToObject(t, "id", (double)id);
    cJSON_AddStringToObject(t, "content", content);
    cJSON_AddBoolToObject(t, "single_word", flag(flags, "single_word", false));
    cJSON_AddBoolToObject(t, "lstrip", flag(flags, "lstrip", false));
    cJSON_AddBoolToObject(t, "rstrip", flag(flags, "rstrip", false));
    cJSON_AddBoolToObject(t, "normalized", flag(flags, "normalized", !special));
    cJSON_AddBoolToObject(t, "special", flag(flags, "special", special));
    return cf_vocab_add(&al->seen, content, strlen(content), (int64_t)cJSON_GetArraySize(al->arr) - 1, NULL, err);
}

static const char *ROLES[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token",
                              "mask_token"};

static cf_status collect_added(const char *dir, const cJSON *config, const cJSON *map, const cf_vocab *vocab,
                               const char *const *default_roles, cJSON *doc, cf_error *err)
{
    added_list al = {cJSON_CreateArray(), {0}, vocab, (int64_t)vocab->n_ids};
    if (!al.arr)
        return oom(err);
    /* next free id: one past the largest vocabulary id */
    al.next_id = 0;
    for (size_t i = 0; i < vocab->n_ids; i++)
        if (vocab->by_id[i])
            al.next_id = (int64_t)i + 1;
    cJSON_AddItemToObject(doc, "added_tokens", al.arr);
    cf_status st = CF_OK;
    /* 1. tokenizer_config.json added_tokens_decoder: ids and flags as saved */
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(config, "added_tokens_decoder");
    const cJSON *it;
    cJSON_ArrayForEach(it, dec)
    {
        if (st != CF_OK)
            break;
        char *end;
        long long id = strtoll(it->string, &end, 10);
        if (*end || id < 0)
            st = cf_fail(err, CF_ERR_FORMAT, "tokenizer_config.json: added_tokens_decoder key \"%s\" is not an id",
                         it->string);
        else
            st = add_token(&al, cf_json_token_text(it), id, it, flag(it, "special", false), err);
    }
    /* 2. the special tokens by role, then additional_special_tokens */
    for (size_t r = 0; r < sizeof ROLES / sizeof *ROLES && st == CF_OK; r++) {
        const cJSON *e = special_entry(map, config, ROLES[r]);
        const char *content = e ? cf_json_token_text(e) : default_roles ? default_roles[r] : NULL;
        st = add_token(&al, content, -1, e, true, err);
    }
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(map, "additional_special_tokens");
    if (!extra)
        extra = cJSON_GetObjectItemCaseSensitive(config, "additional_special_tokens");
    cJSON *added_json = NULL;
    if (st == CF_OK)
        st = read_json(dir, "added_tokens.json", false, &added_json, err);
    /* additional specials may only have an id in added_tokens.json */
    cJSON_ArrayForEach(it, extra)
    {
        if (st != CF_OK)
            break;
        const char *content = cf_json_token_text(it);
        const cJSON *idj = content ? cJSON_GetObjectItemCaseSensitive(added_json, content) : NULL;
        st = add_token(&al, content, cJSON_IsNumber(idj) ? (int64_t)idj->valuedouble : -1, it, true, err);
    }
    /* 3. added_tokens.json: plain added tokens, in id order */
    size_t n = added_json ? (size_t)cJSON_GetArraySize(added_json) : 0;
    const cJSON **byid = calloc(n ? n : 1, sizeof *byid);
    if (!byid && st == CF_OK)
        st = oom(err);
    size_t k = 0;
    cJSON_ArrayForEach(it, added_json)
    {
        if (st == CF_OK && cJSON_IsNumber(it))
            byid[k++] = it;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort by id (files are nearly sorted) */
        for (size_t j = i; j > 0 && byid[j - 1]->valuedouble > byid[j]->valuedouble; j--) {
            const cJSON *t = byid[j];
            byid[j] = byid[j - 1];
            byid[j - 1] = t;
        }
    for (size_t i = 0; i < k && st == CF_OK; i++)
        st = add_token(&al, byid[i]->string, (int64_t)byid[i]->valuedouble, NULL, false, err);
    free(byid);
    cJSON_Delete(added_json);
    cf_vocab_free(&al.seen);
    return st;
}

/* The id a token has once the added tokens are in: vocabulary first, then the added list. */
static int64_t lookup_id(const cf_vocab *vocab, const cJSON *doc, const char *content)
{
    int64_t id = cf_vocab_find(vocab, content, strlen(content));
    if (id >= 0)
        return id;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "added_tokens"))
    {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (cJSON_IsString(c) && !strcmp(c->valuestring, content))
            return (int64_t)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
    }
    return -1;
}

static const char *role_content(const cJSON *map, const cJSON *config, const char *role, const char *dflt)
{
    const cJSON *e = special_entry(map, config, role);
    return e ? cf_json_token_text(e) : dflt;
}

/* "[CLS]:0 $A:0 [SEP]:0"-style template as JSON pieces. */
static cJSON *template_pieces(const char *const *parts, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const char *p = parts[i];
        const char *colon = strrchr(p, ':');
        int type_id = colon ? atoi(colon + 1) : 0;
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        cJSON *piece = cJSON_CreateObject(), *body = cJSON_CreateObject();
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        bool seq = !strcmp(name, "$A") || !strcmp(name, "$B");
        cJSON_AddStringToObject(body, "id", seq ? name + 1 : name);
        cJSON_AddNumberToObject(body, "type_id", type_id);
        cJSON_AddItemToObject(piece, seq ? "Sequence" : "SpecialToken", body);
        cJSON_AddItemToArray(arr, piece);
    }
    return arr;
}

static cJSON *template_processor(const cJSON *single, const cJSON *pair, const char *const *specials,
                                 const int64_t *ids, size_t n_specials)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", "TemplateProcessing");
    cJSON_AddItemToObject(p, "single", (cJSON *)single);
    cJSON_AddItemToObject(p, "pair", (cJSON *)pair);
    cJSON *sp = cJSON_AddObjectToObject(p, "special_tokens");
    for (size_t i = 0; i < n_specials; i++) {
        if (cJSON_GetObjectItemCaseSensitive(sp, specials[i]))
            continue;
        cJSON *e = cJSON_AddObjectToObject(sp, specials[i]);
        cJSON_AddStringToObject(e, "id", specials[i]);
        cJSON *idl = cJSON_AddArrayToObject(e, "ids");
        cJSON_AddItemToArray(idl, cJSON_CreateNumber((double)ids[i]));
        cJSON *tl = cJSON_AddArrayToObject(e, "tokens");
        cJSON_AddItemToArray(tl, cJSON_CreateString(specials[i]));
    }
    return p;
}

static cf_status vocab_from_object(const cJSON *obj, cf_vocab *v, cf_error *err)
{
    return cf_model_parse_vocab_object(obj, "vocab.json", v, err);
}

/* ------------------------------------------------------------ BERT: vocab.txt */

cf_status cf_convert_bert(const char *dir, const cJSON *config, cJSON **out, cf_error *err)
{
    *out = NULL;
    char *text;
    size_t len;
    CF_TRY(read_text(dir, "vocab.txt", &text, &len, err));
    cJSON *doc = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(doc, "model");
    cJSON *vocab_obj = cJSON_AddObjectToObject(model, "vocab");
    cf_vocab vocab = {0};
    cf_status st = CF_OK;
    char *cursor = text;
    for (size_t id = 0; cursor < text + len && st == CF_OK; id++) {
        size_t l;
        char *line = cut_line(&cursor, text + len, &l);
        if (cf_utf8_invalid_at(line, l) != l)
            st = cf_fail(err, CF_ERR_FORMAT, "%s/vocab.txt: line %zu is not valid UTF-8", dir, id + 1);
        bool added = false;
        if (st == CF_OK)
            st = cf_vocab_add(&vocab, line, l, (int64_t)id, &added, err);
        if (st == CF_OK && added)
            cJSON_AddItemToObject(vocab_obj, line, cJSON_CreateNumber((double)id));
    }
    free(text);
    cJSON *map = NULL;
    if (st == CF_OK)
        st = read_json(dir, "special_tokens_map.json", false, &map, err);
    const char *unk = role_content(map, config, "unk_token", "[UNK]");
    const char *cls = role_content(map, config, "cls_token", "[CLS]");
    const char *sep = role_content(map, config, "sep_token", "[SEP]");
    cJSON_AddStringToObject(model, "type", "WordPiece");
    cJSON_AddStringToObject(model, "unk_token", unk);
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "##");
    cJSON_AddNumberToObject(model, "max_input_chars_per_word", 100);
    /* normalizer: the slow tokenizer composes (NFC) before its BasicTokenizer rules */
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(config, "do_lower_case");
    const cJSON *cjk = cJSON_GetObjectItemCaseSensitive(config, "tokenize_chinese_chars");
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(config, "strip_accents");
    cJSON *norm = cJSON_AddObjectToObject(doc, "normalizer");
    cJSON_AddStringToObject(norm, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(norm, "normalizers");
    cJSON *nfc = cJSON_CreateObject();
    cJSON_AddStringToObject(nfc, "type", "NFC");
    cJSON_AddItemToArray(list, nfc);
    cJSON *bn = cJSON_CreateObject();
    cJSON_AddStringToObject(bn, "type", "BertNormalizer");
    cJSON_AddBoolToObject(bn, "clean_text", true);
    cJSON_AddBoolToObject(bn, "handle_chinese_chars", cjk ? cJSON_IsTrue(cjk) : true);
    if (cJSON_IsBool(sa))
        cJSON_AddBoolToObject(bn, "strip_accents", cJSON_IsTrue(sa));
    else
        cJSON_AddNullToObject(bn, "strip_accents");
    cJSON_AddBoolToObject(bn, "lowercase", lc ? cJSON_IsTrue(lc) : true);
    cJSON_AddItemToArray(list, bn);
    cJSON *pre = cJSON_AddObjectToObject(doc, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "BertPreTokenizer");
    cJSON *dec = cJSON_AddObjectToObject(doc, "decoder");
    cJSON_AddStringToObject(dec, "type", "WordPiece");
    cJSON_AddStringToObject(dec, "prefix", "##");
    cJSON_AddBoolToObject(dec, "cleanup", true);
    static const char *bert_roles[] = {NULL, NULL, "[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    if (st == CF_OK)
        st = collect_added(dir, config, map, &vocab, bert_roles, doc, err);
    if (st == CF_OK) {
        const char *single[] = {"CLS:0", "$A:0", "SEP:0"};
        const char *pair[] = {"CLS:0", "$A:0", "SEP:0", "$B:1", "SEP:1"};
        char c0[300], s0[300], s1[300];
        snprintf(c0, sizeof c0, "%s:0", cls);
        snprintf(s0, sizeof s0, "%s:0", sep);
        snprintf(s1, sizeof s1, "%s:1", sep);
        single[0] = pair[0] = c0;
        single[2] = pair[2] = s0;
        pair[4] = s1;
        const char *names[] = {cls, sep};
        int64_t ids[] = {lookup_id(&vocab, doc, cls), lookup_id(&vocab, doc, sep)};
        if (ids[0] < 0 || ids[1] < 0)
            st = cf_fail(err, CF_ERR_FORMAT, "%s/vocab.txt: the special tokens \"%s\" / \"%s\" are not in the vocabulary",
                         dir, cls, sep);
        else
            cJSON_AddItemToObject(doc, "post_processor",
                                  template_processor(template_pieces(single, 3), template_pieces(pair, 5), names, ids, 2));
    }
    cJSON_Delete(map);
    cf_vocab_free(&vocab);
    return hand_over(doc, st, out);
}

/* ------------------------------------------------------------ byte-level BPE: vocab.json + merges.txt */

static cf_status parse_merges(const char *dir, cJSON *model, cf_error *err)
{
    char *text;
    size_t len;
    CF_TRY(read_text(dir, "merges.txt", &text, &len, err));
    cJSON *arr = cJSON_AddArrayToObject(model, "merges");
    cf_vocab seen = {0};
    cf_status st = CF_OK;
    char *cursor = text;
    for (size_t lineno = 0; cursor < text + len && st == CF_OK; lineno++) {
        size_t l;
        char *cur = cut_line(&cursor, text + len, &l);
        if (lineno == 0) /* the "#version" header (transformers always skips the first line) */
            continue;
        if (l && cur[l - 1] == '\r')
            cur[--l] = '\0';
        char *a = strtok(cur, " \t"), *b = a ? strtok(NULL, " \t") : NULL, *c = b ? strtok(NULL, " \t") : NULL;
        if (!a)
            continue;
        if (!b || c) {
            st = cf_fail(err, CF_ERR_FORMAT, "%s/merges.txt: line %zu is not two tokens separated by a space", dir,
                         lineno + 1);
            break;
        }
        char key[1024];
        int kl = snprintf(key, sizeof key, "%s %s", a, b);
        if (kl < 0 || (size_t)kl >= sizeof key) {
            st = cf_fail(err, CF_ERR_FORMAT, "%s/merges.txt: line %zu is too long", dir, lineno + 1);
            break;
        }
        bool added = false;
        st = cf_vocab_add(&seen, key, (size_t)kl, (int64_t)seen.count, &added, err);
        if (st == CF_OK && added) /* a repeated merge keeps its first rank */
            cJSON_AddItemToArray(arr, cJSON_CreateString(key));
    }
    cf_vocab_free(&seen);
    free(text);
    return st;
}

static const char *config_class(const char *dir, const cJSON *config)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(config, "tokenizer_class");
    (void)dir;
    return cJSON_IsString(c) ? c->valuestring : "";
}

cf_status cf_convert_bpe(const char *dir, const cJSON *config, cJSON **out, cf_error *err)
{
    *out = NULL;
    cJSON *vocab_json = NULL, *map = NULL, *model_cfg = NULL;
    CF_TRY(read_json(dir, "vocab.json", true, &vocab_json, err));
    cf_vocab vocab = {0};
    cJSON *doc = cJSON_CreateObject();
    cf_status st = vocab_from_object(vocab_json, &vocab, err);
    if (st != CF_OK)
        cf_error_prefix(err, "%s/", dir);
    cJSON *model = cJSON_AddObjectToObject(doc, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddItemToObject(model, "vocab", vocab_json);
    cJSON_AddStringToObject(model, "continuing_subword_prefix", "");
    cJSON_AddStringToObject(model, "end_of_word_suffix", "");
    cJSON_AddBoolToObject(model, "fuse_unk", false);
    if (st == CF_OK)
        st = parse_merges(dir, model, err);
    if (st == CF_OK)
        st = read_json(dir, "special_tokens_map.json", false, &map, err);
    if (st == CF_OK)
        st = read_json(dir, "config.json", false, &model_cfg, err);
    const cJSON *aps = cJSON_GetObjectItemCaseSensitive(config, "add_prefix_space");
    bool add_prefix_space = cJSON_IsTrue(aps);
    cJSON *pre = cJSON_AddObjectToObject(doc, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", add_prefix_space);
    cJSON_AddBoolToObject(pre, "trim_offsets", true);
    cJSON_AddBoolToObject(pre, "use_regex", true);
    cJSON *dec = cJSON_AddObjectToObject(doc, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    if (st == CF_OK)
        st = collect_added(dir, config, map, &vocab, NULL, doc, err);
    if (st == CF_OK) {
        /* Which slow tokenizer this is: the config's class, else the model type, else its tokens. */
        const char *cls = config_class(dir, config);
        const cJSON *mt = cJSON_GetObjectItemCaseSensitive(model_cfg, "model_type");
        const char *model_type = cJSON_IsString(mt) ? mt->valuestring : "";
        bool whisper = strstr(cls, "Whisper") || !strcmp(model_type, "whisper") ||
                       (!*cls && lookup_id(&vocab, doc, "<|startoftranscript|>") >= 0);
        bool roberta = !whisper && (strstr(cls, "Roberta") || strstr(cls, "Bart") || strstr(cls, "Longformer") ||
                                    !strcmp(model_type, "roberta") || !strcmp(model_type, "bart") ||
                                    (!*cls && !*model_type && special_entry(map, config, "cls_token") &&
                                     special_entry(map, config, "sep_token")));
        if (whisper) {
            const char *eos = role_content(map, config, "eos_token", "<|endoftext|>");
            const char *names[] = {eos, "<|startoftranscript|>", "<|notimestamps|>"};
            int64_t ids[3];
            for (int i = 0; i < 3; i++)
                ids[i] = lookup_id(&vocab, doc, names[i]);
            if (ids[0] < 0 || ids[1] < 0 || ids[2] < 0) {
                st = cf_fail(err, CF_ERR_FORMAT, "%s: Whisper tokens (%s, <|startoftranscript|>, <|notimestamps|>) are missing", dir, eos);
            } else {
                char e0[300], e1[300];
                snprintf(e0, sizeof e0, "%s:0", eos);
                snprintf(e1, sizeof e1, "%s:1", eos);
                const char *single[] = {"<|startoftranscript|>:0", "<|notimestamps|>:0", "$A:0", e0};
                const char *pair[] = {"<|startoftranscript|>:0", "<|notimestamps|>:0", "$A:0", "$B:1", e1};
                cJSON_AddItemToObject(doc, "post_processor",
                                      template_processor(template_pieces(single, 4), template_pieces(pair, 5), names, ids, 3));
            }
        } else if (roberta) {
            const char *c = role_content(map, config, "cls_token", "<s>");
            const char *s = role_content(map, config, "sep_token", "</s>");
            int64_t cid = lookup_id(&vocab, doc, c), sid = lookup_id(&vocab, doc, s);
            if (cid < 0 || sid < 0) {
                st = cf_fail(err, CF_ERR_FORMAT, "%s: the special tokens \"%s\" / \"%s\" are not in vocab.json", dir, c, s);
            } else {
                cJSON *p = cJSON_AddObjectToObject(doc, "post_processor");
                cJSON_AddStringToObject(p, "type", "RobertaProcessing");
                cJSON *sep = cJSON_AddArrayToObject(p, "sep"), *clsj = cJSON_AddArrayToObject(p, "cls");
                cJSON_AddItemToArray(sep, cJSON_CreateString(s));
                cJSON_AddItemToArray(sep, cJSON_CreateNumber((double)sid));
                cJSON_AddItemToArray(clsj, cJSON_CreateString(c));
                cJSON_AddItemToArray(clsj, cJSON_CreateNumber((double)cid));
                cJSON_AddBoolToObject(p, "trim_offsets", true);
                cJSON_AddBoolToObject(p, "add_prefix_space", add_prefix_space);
            }
        } else {
            const cJSON *abt = cJSON_GetObjectItemCaseSensitive(config, "add_bos_token");
            const char *bos = role_content(map, config, "bos_token", "<|endoftext|>");
            int64_t bid = lookup_id(&vocab, doc, bos);
            if (cJSON_IsTrue(abt) && bid >= 0) {
                char b0[300];
                snprintf(b0, sizeof b0, "%s:0", bos);
                const char *single[] = {b0, "$A:0"}, *pair[] = {b0, "$A:0", "$B:1"};
                const char *names[] = {bos};
                cJSON_AddItemToObject(doc, "post_processor",
                                      template_processor(template_pieces(single, 2), template_pieces(pair, 3), names, &bid, 1));
            } else {
                cJSON *p = cJSON_AddObjectToObject(doc, "post_processor");
                cJSON_AddStringToObject(p, "type", "ByteLevel");
                cJSON_AddBoolToObject(p, "add_prefix_space", true);
                cJSON_AddBoolToObject(p, "trim_offsets", false);
                cJSON_AddBoolToObject(p, "use_regex", true);
            }
        }
    }
    cJSON_Delete(map);
    cJSON_Delete(model_cfg);
    cf_vocab_free(&vocab);
    return hand_over(doc, st, out);
}

/* ------------------------------------------------------------ Wav2Vec2: character vocab.json */

/* The id table: vocab.json itself, or its target_lang entry for multilingual (MMS) files. */
static cf_status ctc_vocab(const char *dir, const cJSON *config, cJSON **vocab_json, cJSON **table, cf_error *err)
{
    CF_TRY(read_json(dir, "vocab.json", true, vocab_json, err));
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(config, "target_lang");
    *table = *vocab_json;
    if (cJSON_IsString(lang)) {
        cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(*vocab_json, lang->valuestring);
        if (!cJSON_IsObject(t)) {
            cJSON_Delete(t);
            return cf_fail(err, CF_ERR_FORMAT, "%s/vocab.json: no vocabulary object for target_lang \"%s\"", dir,
                           lang->valuestring);
        }
        *table = t;
    }
    return CF_OK;
}

/* Wav2Vec2CTCTokenizer: every char is a token (a space becomes the word delimiter, the text is
 * upper-cased when do_lower_case); decoding groups repeats, drops the blank (pad) token and
 * turns the delimiter back into replace_word_delimiter_char. */
cf_status cf_convert_wordlevel_ctc(const char *dir, const cJSON *config, cJSON **out, cf_error *err)
{
    *out = NULL;
    cJSON *vocab_json = NULL, *table = NULL, *map = NULL;
    cf_status st = ctc_vocab(dir, config, &vocab_json, &table, err);
    if (st == CF_OK)
        st = read_json(dir, "special_tokens_map.json", false, &map, err);
    cf_vocab vocab = {0};
    if (st == CF_OK && (st = vocab_from_object(table, &vocab, err)) != CF_OK)
        cf_error_prefix(err, "%s/", dir);
    const char *unk = role_content(map, config, "unk_token", "<unk>");
    const char *pad = role_content(map, config, "pad_token", "<pad>");
    const cJSON *wd = cJSON_GetObjectItemCaseSensitive(config, "word_delimiter_token");
    const char *delim = cJSON_IsString(wd) ? wd->valuestring : "|";
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(config, "replace_word_delimiter_char");
    const char *replace_char = cJSON_IsString(rc) ? rc->valuestring : " ";
    bool upper = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "do_lower_case"));
    const cJSON *cu = cJSON_GetObjectItemCaseSensitive(config, "clean_up_tokenization_spaces");

    cJSON *doc = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(doc, "model");
    cJSON_AddStringToObject(model, "type", "WordLevel");
    cJSON_AddItemToObject(model, "vocab", table == vocab_json ? vocab_json : table);
    if (table != vocab_json)
        cJSON_Delete(vocab_json);
    cJSON_AddStringToObject(model, "unk_token", unk);
    cJSON *norm = cJSON_AddObjectToObject(doc, "normalizer");
    cJSON_AddStringToObject(norm, "type", "Sequence");
    cJSON *norms = cJSON_AddArrayToObject(norm, "normalizers");
    if (upper) {
        cJSON *u = cJSON_CreateObject();
        cJSON_AddStringToObject(u, "type", "Uppercase");
        cJSON_AddItemToArray(norms, u);
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "type", "Replace");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "pattern"), "String", " ");
    cJSON_AddStringToObject(r, "content", delim);
    cJSON_AddItemToArray(norms, r);
    cJSON *pre = cJSON_AddObjectToObject(doc, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Split");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(pre, "pattern"), "Regex", "(?s).");
    cJSON_AddStringToObject(pre, "behavior", "Isolated");
    cJSON_AddBoolToObject(pre, "invert", false);
    cJSON_AddNullToObject(doc, "post_processor");
    cJSON *dec = cJSON_AddObjectToObject(doc, "decoder");
    cJSON_AddStringToObject(dec, "type", "Wav2Vec2CTC");
    cJSON_AddStringToObject(dec, "pad_token", pad);
    cJSON_AddStringToObject(dec, "word_delimiter_token", delim);
    cJSON_AddStringToObject(dec, "replace_word_delimiter_char", replace_char);
    cJSON_AddBoolToObject(dec, "do_lower_case", upper);
    cJSON_AddBoolToObject(dec, "cleanup", cu ? cJSON_IsTrue(cu) : true);
    if (st == CF_OK)
        st = collect_added(dir, config, map, &vocab, NULL, doc, err);
    /* The slow tokenizer skips every token of a role (all_special_ids), whatever its flags say. */
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(doc, "added_tokens"))
    {
        const char *content = cf_json_token_text(it);
        for (size_t r2 = 0; content && r2 < sizeof ROLES / sizeof *ROLES; r2++) {
            const char *role = role_content(map, config, ROLES[r2], NULL);
            if (role && !strcmp(role, content))
                cJSON_ReplaceItemInObjectCaseSensitive((cJSON *)it, "special", cJSON_CreateTrue());
        }
    }
    cJSON_Delete(map);
    cf_vocab_free(&vocab);
    if (st == CF_OK && (!model || !norm || !pre || !dec))
        st = oom(err);
    return hand_over(doc, st, out);
}

/* ------------------------------------------------------------ entry point */

static bool find_spm(const char *dir)
{
    static const char *names[] = {"tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "source.spm",
                                  "spm.model"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (has_file(dir, names[i]))
            return true;
    return false;
}

/* Build the tokenizer from a converted tokenizer.json tree (consumed), then read the config files. */
static cf_status from_converted(const char *dir, cJSON *doc, const char *what, cf_tokenizer **out, cf_error *err)
{
    char where[4200];
    snprintf(where, sizeof where, "%s (converted from %s)", dir, what);
    cf_status st = cf_tokenizer_from_json(doc, where, out, err);
    cJSON_Delete(doc);
    if (st == CF_OK && (st = cf_tokenizer_read_config(*out, dir, err)) != CF_OK) {
        cf_tokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

cf_status cf_tokenizer_load_legacy(const char *dir, cf_tokenizer **out, cf_error *err)
{
    *out = NULL;
    if (!dir)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cf_tokenizer_load_legacy: no folder given");
    cJSON *config = NULL, *doc = NULL;
    CF_TRY(read_json(dir, "tokenizer_config.json", false, &config, err));
    cf_status st;
    const char *what;
    if (has_file(dir, "vocab.txt")) {
        what = "vocab.txt";
        st = cf_convert_bert(dir, config, &doc, err);
    } else if (has_file(dir, "vocab.json") && has_file(dir, "merges.txt")) {
        what = "vocab.json + merges.txt";
        st = cf_convert_bpe(dir, config, &doc, err);
    } else if (find_spm(dir)) {
        what = "sentencepiece model";
        st = cf_spm_convert(dir, &doc, err);
    } else if (has_file(dir, "vocab.json")) {
        what = "vocab.json (character-level CTC)";
        st = cf_convert_wordlevel_ctc(dir, config, &doc, err);
    } else {
        cJSON_Delete(config);
        return cf_fail(err, CF_ERR_NOT_FOUND,
                       "%s: no tokenizer files (tokenizer.json, vocab.txt, vocab.json + merges.txt, *.model, *.spm, "
                       "vocab.json)",
                       dir);
    }
    cJSON_Delete(config);
    if (st != CF_OK)
        return st;
    return from_converted(dir, doc, what, out, err);
}

cf_status cf_tokenizer_load_target(const char *dir, cf_tokenizer **out, cf_error *err)
{
    *out = NULL;
    if (!dir)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cf_tokenizer_load_target: no folder given");
    if (!has_file(dir, "target.spm"))
        return cf_tokenizer_load(dir, out, err);
    cJSON *doc = NULL;
    CF_TRY(cf_spm_convert_target(dir, &doc, err));
    return from_converted(dir, doc, "target.spm + vocab.json", out, err);
}
