/* sentencepiece model folders -> tokenizer.json trees (see convert_spm.h). */
#include "tokenizers/convert_spm.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/buf.h"
#include "io/config.h"
#include "tokenizers/spm_proto.h"
#include "tokenizers/unigram.h"

#define SPACE_SYMBOL "\xE2\x96\x81" /* ▁ */

/* ---- small JSON builders ---- */

typedef struct json_ctx {
    bool oom;
} json_ctx;

static cJSON *jadd(json_ctx *j, cJSON *parent, const char *key, cJSON *item)
{
    if (!item) {
        j->oom = true;
        return NULL;
    }
    if (!parent)
        return item;
    bool ok = key ? cJSON_AddItemToObject(parent, key, item) : cJSON_AddItemToArray(parent, item);
    if (!ok) {
        cJSON_Delete(item);
        j->oom = true;
        return NULL;
    }
    return item;
}

static cJSON *jstr(json_ctx *j, cJSON *parent, const char *key, const char *s)
{
    return jadd(j, parent, key, cJSON_CreateString(s));
}

static cJSON *jnum(json_ctx *j, cJSON *parent, const char *key, double v)
{
    return jadd(j, parent, key, cJSON_CreateNumber(v));
}

static cJSON *jbool(json_ctx *j, cJSON *parent, const char *key, bool v)
{
    return jadd(j, parent, key, cJSON_CreateBool(v));
}

static cJSON *jnull(json_ctx *j, cJSON *parent, const char *key) { return jadd(j, parent, key, cJSON_CreateNull()); }
static cJSON *jobj(json_ctx *j, cJSON *parent, const char *key) { return jadd(j, parent, key, cJSON_CreateObject()); }
static cJSON *jarr(json_ctx *j, cJSON *parent, const char *key) { return jadd(j, parent, key, cJSON_CreateArray()); }

/* {"type": type} appended to parent (an array or, with key, an object). */
static cJSON *jtyped(json_ctx *j, cJSON *parent, const char *key, const char *type)
{
    cJSON *o = jobj(j, parent, key);
    jstr(j, o, "type", type);
    return o;
}

/* ---- shared pieces of the document ---- */

typedef struct added_token {
    int64_t id;
    const char *content;
    bool single_word, lstrip, rstrip, normalized, special;
} added_token;

static void add_added_token(json_ctx *j, cJSON *arr, const added_token *t)
{
    cJSON *o = jobj(j, arr, NULL);
    jnum(j, o, "id", (double)t->id);
    jstr(j, o, "content", t->content);
    jbool(j, o, "single_word", t->single_word);
    jbool(j, o, "lstrip", t->lstrip);
    jbool(j, o, "rstrip", t->rstrip);
    jbool(j, o, "normalized", t->normalized);
    jbool(j, o, "special", t->special);
}

static cJSON *new_document(json_ctx *j)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc) {
        j->oom = true;
        return NULL;
    }
    jstr(j, doc, "version", "1.0");
    jnull(j, doc, "truncation");
    jnull(j, doc, "padding");
    jarr(j, doc, "added_tokens");
    return doc;
}

static cJSON *metaspace(json_ctx *j, cJSON *parent, const char *key, const char *prepend_scheme, bool split)
{
    cJSON *m = jtyped(j, parent, key, "Metaspace");
    jstr(j, m, "replacement", SPACE_SYMBOL);
    jstr(j, m, "prepend_scheme", prepend_scheme);
    jbool(j, m, "split", split);
    return m;
}

static cJSON *replace_string(json_ctx *j, cJSON *parent, const char *from, const char *to)
{
    cJSON *r = jtyped(j, parent, NULL, "Replace");
    cJSON *pat = jobj(j, r, "pattern");
    jstr(j, pat, "String", from);
    jstr(j, r, "content", to);
    return r;
}

/* One TemplateProcessing item: a special token or a sequence ("A"/"B"). */
static void template_item(json_ctx *j, cJSON *arr, bool special, const char *id, int type_id)
{
    cJSON *o = jobj(j, arr, NULL);
    cJSON *inner = jobj(j, o, special ? "SpecialToken" : "Sequence");
    jstr(j, inner, "id", id);
    jnum(j, inner, "type_id", type_id);
}

typedef struct template_spec {
    const char *bos, *eos; /* NULL: not added */
    int64_t bos_id, eos_id;
    bool pair_bos;   /* repeat bos before B */
    bool pair_eos_a; /* eos after A in a pair too */
    int pair_type_id;
} template_spec;

static void special_entry(json_ctx *j, cJSON *specials, const char *tok, int64_t id)
{
    cJSON *e = jobj(j, specials, tok);
    jstr(j, e, "id", tok);
    cJSON *ids = jarr(j, e, "ids");
    jnum(j, ids, NULL, (double)id);
    cJSON *toks = jarr(j, e, "tokens");
    jstr(j, toks, NULL, tok);
}

static void template_processing(json_ctx *j, cJSON *doc, const template_spec *t)
{
    cJSON *pp = jtyped(j, doc, "post_processor", "TemplateProcessing");
    cJSON *single = jarr(j, pp, "single");
    if (t->bos)
        template_item(j, single, true, t->bos, 0);
    template_item(j, single, false, "A", 0);
    if (t->eos)
        template_item(j, single, true, t->eos, 0);
    cJSON *pair = jarr(j, pp, "pair");
    if (t->bos)
        template_item(j, pair, true, t->bos, 0);
    template_item(j, pair, false, "A", 0);
    if (t->eos && t->pair_eos_a)
        template_item(j, pair, true, t->eos, 0);
    if (t->bos && t->pair_bos)
        template_item(j, pair, true, t->bos, t->pair_type_id);
    template_item(j, pair, false, "B", t->pair_type_id);
    if (t->eos)
        template_item(j, pair, true, t->eos, t->pair_type_id);
    cJSON *specials = jobj(j, pp, "special_tokens");
    if (t->bos)
        special_entry(j, specials, t->bos, t->bos_id);
    if (t->eos && (!t->bos || strcmp(t->eos, t->bos) != 0))
        special_entry(j, specials, t->eos, t->eos_id);
}

static cJSON *precompiled_normalizer(json_ctx *j, cJSON *parent, const cf_spm_normalizer_spec *ns, cf_error *err,
                                     cf_status *st)
{
    char *b64 = cf_base64_encode(ns->precompiled_charsmap, ns->charsmap_len);
    if (!b64) {
        *st = cf_fail(err, CF_ERR_NOMEM, "out of memory for the charsmap");
        return NULL;
    }
    cJSON *p = jtyped(j, parent, NULL, "Precompiled");
    jstr(j, p, "precompiled_charsmap", b64);
    free(b64);
    return p;
}

/* ---- folder inspection ---- */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The model file to read: the well-known names first, then any *.model. */
static bool find_model_file(const char *dir, char *path, size_t size)
{
    static const char *const names[] = {"tokenizer.model", "spiece.model", "source.spm", "sentencepiece.bpe.model"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, size, "%s/%s", dir, names[i]);
        if (cf_file_exists(path))
            return true;
    }
    DIR *d = opendir(dir);
    if (!d)
        return false;
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.' && has_suffix(e->d_name, ".model") && strlen(e->d_name) < sizeof best &&
            (!best[0] || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (!best[0])
        return false;
    snprintf(path, size, "%s/%s", dir, best);
    return true;
}

bool cf_spm_folder_has_model(const char *dir)
{
    char path[4096];
    return dir && find_model_file(dir, path, sizeof path);
}

static bool is_marian(const char *dir)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/source.spm", dir);
    snprintf(b, sizeof b, "%s/vocab.json", dir);
    return cf_file_exists(a) && cf_file_exists(b);
}

static const char *piece_or(const cf_spm_model *m, int32_t id, const char *dflt)
{
    return id >= 0 && (size_t)id < m->n_pieces ? m->pieces[id].piece : dflt;
}

/* ---- Llama: BPE ---- */

typedef struct merge {
    int32_t left, right;
    double score;
    size_t order; /* position in generation order, for a stable sort */
} merge;

static int cmp_merge_desc(const void *a, const void *b)
{
    const merge *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_merge_local(const void *a, const void *b)
{
    const merge *x = a, *y = b;
    if (x->left != y->left)
        return x->left < y->left ? -1 : 1;
    return x->right < y->right ? -1 : x->right > y->right;
}

static size_t utf8_len(uint8_t lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

/* transformers' generate_merges: for each piece (in vocabulary order) every split into two
 * pieces, ordered by (left id, right id); then all of them stably sorted by the piece's
 * score, highest first. */
static cf_status derive_merges(const cf_unigram *lookup, const char *const *pieces, const double *scores, size_t n,
                               merge **out, size_t *n_out, cf_error *err)
{
    size_t cap = 1024, count = 0;
    merge *v = malloc(cap * sizeof *v);
    if (!v)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for BPE merges");
    for (size_t i = 0; i < n; i++) {
        if (cf_unigram_token_to_id(lookup, pieces[i], strlen(pieces[i])) != (int64_t)i)
            continue; /* a repeated piece string: its dict entry is the last one */
        size_t len = strlen(pieces[i]), first = count;
        for (size_t k = utf8_len((uint8_t)pieces[i][0]); k < len; k += utf8_len((uint8_t)pieces[i][k])) {
            int64_t l = cf_unigram_token_to_id(lookup, pieces[i], k);
            int64_t r = cf_unigram_token_to_id(lookup, pieces[i] + k, len - k);
            if (l < 0 || r < 0)
                continue;
            if (count == cap) {
                merge *nv = realloc(v, cap * 2 * sizeof *v);
                if (!nv) {
                    free(v);
                    return cf_fail(err, CF_ERR_NOMEM, "out of memory for BPE merges");
                }
                v = nv;
                cap *= 2;
            }
            v[count++] = (merge){(int32_t)l, (int32_t)r, scores[i], 0};
        }
        qsort(v + first, count - first, sizeof *v, cmp_merge_local);
    }
    for (size_t i = 0; i < count; i++)
        v[i].order = i;
    qsort(v, count, sizeof *v, cmp_merge_desc);
    *out = v;
    *n_out = count;
    return CF_OK;
}

/* A lookup table piece -> last id, built on the Unigram trie. */
static cf_status piece_lookup(const char *const *pieces, size_t n, cf_unigram **out, cf_error *err)
{
    double *zeros = calloc(n ? n : 1, sizeof *zeros);
    if (!zeros)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status st = cf_unigram_new(pieces, zeros, n, -1, false, out, err);
    free(zeros);
    return st;
}

static cf_status llama_model(json_ctx *j, cJSON *doc, const cf_spm_model *m, const char *const *pieces,
                             const double *scores, cf_error *err)
{
    cf_unigram *lookup;
    CF_TRY(piece_lookup(pieces, m->n_pieces, &lookup, err));
    merge *merges = NULL;
    size_t n_merges = 0;
    cf_status st = derive_merges(lookup, pieces, scores, m->n_pieces, &merges, &n_merges, err);
    if (st == CF_OK) {
        cJSON *model = jtyped(j, doc, "model", "BPE");
        jnull(j, model, "dropout");
        jstr(j, model, "unk_token", m->trainer.unk_piece);
        jnull(j, model, "continuing_subword_prefix");
        jnull(j, model, "end_of_word_suffix");
        jbool(j, model, "fuse_unk", true);
        jbool(j, model, "byte_fallback", true);
        jbool(j, model, "ignore_merges", false);
        cJSON *vocab = jobj(j, model, "vocab");
        for (size_t i = 0; i < m->n_pieces && vocab; i++)
            if (cf_unigram_token_to_id(lookup, pieces[i], strlen(pieces[i])) == (int64_t)i)
                jnum(j, vocab, pieces[i], (double)i);
        cJSON *arr = jarr(j, model, "merges");
        for (size_t i = 0; i < n_merges && arr; i++) {
            cJSON *pair = jarr(j, arr, NULL);
            jstr(j, pair, NULL, pieces[merges[i].left]);
            jstr(j, pair, NULL, pieces[merges[i].right]);
        }
    }
    free(merges);
    cf_unigram_free(lookup);
    return st;
}

static cf_status convert_llama(json_ctx *j, cJSON *doc, const cf_spm_model *m, const cf_config *cfg, cf_error *err)
{
    size_t n = m->n_pieces;
    const char **pieces = malloc(n * sizeof *pieces);
    double *scores = malloc(n * sizeof *scores);
    if (!pieces || !scores) {
        free(pieces);
        free(scores);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for %zu pieces", n);
    }
    for (size_t i = 0; i < n; i++) {
        pieces[i] = m->pieces[i].piece;
        scores[i] = i < 3 ? 0.0 : m->pieces[i].score; /* LlamaConverter.vocab zeroes the first three */
    }
    cJSON *added = cJSON_GetObjectItemCaseSensitive(doc, "added_tokens");
    for (size_t i = 0; i < n && i < 3; i++)
        add_added_token(j, added, &(added_token){(int64_t)i, pieces[i], false, false, false, false, true});

    bool legacy = cf_config_bool(cfg, "legacy", true);
    bool prefix = cf_config_bool(cfg, "add_prefix_space", m->normalizer.add_dummy_prefix);
    if (legacy) {
        cJSON *norm = jtyped(j, doc, "normalizer", "Sequence");
        cJSON *list = jarr(j, norm, "normalizers");
        if (prefix) {
            cJSON *p = jtyped(j, list, NULL, "Prepend");
            jstr(j, p, "prepend", SPACE_SYMBOL);
        }
        replace_string(j, list, " ", SPACE_SYMBOL);
        jnull(j, doc, "pre_tokenizer");
    } else {
        jnull(j, doc, "normalizer");
        metaspace(j, doc, "pre_tokenizer", prefix ? "first" : "never", false);
    }

    bool add_bos = cf_config_bool(cfg, "add_bos_token", true), add_eos = cf_config_bool(cfg, "add_eos_token", false);
    int32_t bos_id = m->trainer.bos_id, eos_id = m->trainer.eos_id;
    template_spec t = {.bos = add_bos ? piece_or(m, bos_id, NULL) : NULL,
                       .eos = add_eos ? piece_or(m, eos_id, NULL) : NULL,
                       .bos_id = bos_id,
                       .eos_id = eos_id,
                       .pair_bos = true,
                       .pair_eos_a = true,
                       .pair_type_id = 1};
    template_processing(j, doc, &t);

    cJSON *dec = jtyped(j, doc, "decoder", "Sequence");
    cJSON *list = jarr(j, dec, "decoders");
    replace_string(j, list, SPACE_SYMBOL, " ");
    jtyped(j, list, NULL, "ByteFallback");
    jtyped(j, list, NULL, "Fuse");
    cJSON *strip = jtyped(j, list, NULL, "Strip");
    jstr(j, strip, "content", " ");
    jnum(j, strip, "start", prefix ? 1 : 0);
    jnum(j, strip, "stop", 0);

    cf_status st = llama_model(j, doc, m, pieces, scores, err);
    free(pieces);
    free(scores);
    return st;
}

/* ---- Unigram (T5 and generic) ---- */

/* sentencepiece's own whitespace handling, as the slow tokenizer sees it: with
 * remove_extra_whitespaces, runs of spaces collapse to one and trailing ones go (so a
 * whitespace-only text has no tokens), while a leading space becomes the "▁" of the first
 * word as in the converted tokenizer.json (that keeps its offsets). */
static cf_status spm_text_pipeline(json_ctx *j, cJSON *doc, const cf_spm_model *m, cf_error *err)
{
    cf_status st = CF_OK;
    bool collapse = m->normalizer.remove_extra_whitespaces;
    if (m->normalizer.charsmap_len || collapse) {
        cJSON *norm = jtyped(j, doc, "normalizer", "Sequence");
        cJSON *list = jarr(j, norm, "normalizers");
        if (m->normalizer.charsmap_len)
            precompiled_normalizer(j, list, &m->normalizer, err, &st);
        if (collapse) {
            cJSON *r = jtyped(j, list, NULL, "Replace");
            jstr(j, jobj(j, r, "pattern"), "Regex", " {2,}");
            jstr(j, r, "content", " ");
            cJSON *strip = jtyped(j, list, NULL, "Strip");
            jbool(j, strip, "strip_left", false);
            jbool(j, strip, "strip_right", true);
        }
    } else {
        jnull(j, doc, "normalizer");
    }
    metaspace(j, doc, "pre_tokenizer", m->normalizer.add_dummy_prefix ? "always" : "never", collapse);
    return st;
}

static int64_t config_extra_ids(const cf_config *cfg, bool is_t5)
{
    int64_t n = cf_config_int(cfg, "extra_ids", is_t5 ? 100 : 0);
    return n < 0 || n > 1000000 ? 0 : n;
}

/* Flags of an added token from tokenizer_config's added_tokens_decoder, if it lists it. */
static added_token config_added_token(const cf_config *cfg, int64_t id, const char *content)
{
    added_token t = {id, content, false, false, false, false, true};
    char key[64];
    snprintf(key, sizeof key, "%lld", (long long)id);
    const cJSON *dec = cf_config_get(cfg, "added_tokens_decoder");
    const cJSON *e = cJSON_IsObject(dec) ? cJSON_GetObjectItemCaseSensitive(dec, key) : NULL;
    const cJSON *c = e ? cJSON_GetObjectItemCaseSensitive(e, "content") : NULL;
    if (!cJSON_IsString(c) || strcmp(c->valuestring, content) != 0)
        return t;
    t.single_word = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "single_word"));
    t.lstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "lstrip"));
    t.rstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "rstrip"));
    t.normalized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "normalized"));
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "special");
    t.special = !cJSON_IsBool(sp) || cJSON_IsTrue(sp);
    return t;
}

static cf_status convert_unigram(json_ctx *j, cJSON *doc, const cf_spm_model *m, const cf_config *cfg, bool is_t5,
                                 cf_error *err)
{
    int64_t n_extra = config_extra_ids(cfg, is_t5);
    int32_t unk_id = m->trainer.unk_id;
    if (unk_id < 0 || (size_t)unk_id >= m->n_pieces)
        return cf_fail(err, CF_ERR_FORMAT, "sentencepiece model: unk_id %d is outside its %zu pieces", unk_id,
                       m->n_pieces);
    cJSON *added = cJSON_GetObjectItemCaseSensitive(doc, "added_tokens");
    for (size_t i = 0; i < m->n_pieces; i++) {
        cf_spm_piece_type t = m->pieces[i].type;
        if (t == CF_SPM_CONTROL || t == CF_SPM_UNKNOWN || t == CF_SPM_USER_DEFINED) {
            added_token a = config_added_token(cfg, (int64_t)i, m->pieces[i].piece);
            a.special = t != CF_SPM_USER_DEFINED;
            add_added_token(j, added, &a);
        }
    }
    char name[64];
    for (int64_t k = 0; k < n_extra; k++) {
        int64_t id = (int64_t)m->n_pieces + k;
        snprintf(name, sizeof name, "<extra_id_%lld>", (long long)(n_extra - 1 - k));
        added_token a = config_added_token(cfg, id, name);
        add_added_token(j, added, &a);
    }
    CF_TRY(spm_text_pipeline(j, doc, m, err));
    if (is_t5) {
        int32_t eos = m->trainer.eos_id;
        template_spec t = {.eos = piece_or(m, eos, "</s>"), .eos_id = eos, .pair_eos_a = true, .pair_type_id = 0};
        template_processing(j, doc, &t);
    } else {
        jnull(j, doc, "post_processor");
    }
    metaspace(j, doc, "decoder", m->normalizer.add_dummy_prefix ? "always" : "never", true);

    cJSON *model = jtyped(j, doc, "model", "Unigram");
    jnum(j, model, "unk_id", unk_id);
    cJSON *vocab = jarr(j, model, "vocab");
    for (size_t i = 0; i < m->n_pieces && vocab; i++) {
        cJSON *e = jarr(j, vocab, NULL);
        jstr(j, e, NULL, m->pieces[i].piece);
        jnum(j, e, NULL, m->pieces[i].score);
    }
    for (int64_t k = 0; k < n_extra && vocab; k++) {
        cJSON *e = jarr(j, vocab, NULL);
        snprintf(name, sizeof name, "<extra_id_%lld>", (long long)(n_extra - 1 - k));
        jstr(j, e, NULL, name);
        jnum(j, e, NULL, 0.0);
    }
    jbool(j, model, "byte_fallback", m->trainer.byte_fallback);
    return CF_OK;
}

/* ---- Marian: spm pieces, vocab.json ids ---- */

typedef struct id_table {
    const char **pieces; /* by id; borrowed from the vocab.json tree */
    size_t n;
} id_table;

static cf_status read_vocab_json(const char *path, cJSON **tree, id_table *t, cf_error *err)
{
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, (size_t)1 << 30, &text, &len, err));
    *tree = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(*tree))
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a JSON object of piece -> id", path);
    size_t n = (size_t)cJSON_GetArraySize(*tree);
    t->pieces = calloc(n ? n : 1, sizeof *t->pieces);
    t->n = n;
    if (!t->pieces)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, *tree)
    {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (v < 0 || v >= (double)n || v != (double)(size_t)v)
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" has id %g; ids must be 0..%zu", path, e->string, v, n - 1);
        if (t->pieces[(size_t)v])
            return cf_fail(err, CF_ERR_FORMAT, "%s: id %zu is given to both \"%s\" and \"%s\"", path, (size_t)v,
                           t->pieces[(size_t)v], e->string);
        t->pieces[(size_t)v] = e->string;
    }
    return CF_OK;
}

static int64_t table_id(const id_table *t, const char *piece)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->pieces[i], piece) == 0)
            return (int64_t)i;
    return -1;
}

/* The spm lattice: NORMAL and USER_DEFINED pieces with the scores sentencepiece gives them
 * (a user-defined piece scores chars * max normal score - 0.1). */
static void marian_lattice(json_ctx *j, cJSON *model, const cf_spm_model *m)
{
    double max_score = -1e300;
    for (size_t i = 0; i < m->n_pieces; i++)
        if (m->pieces[i].type == CF_SPM_NORMAL && m->pieces[i].score > max_score)
            max_score = m->pieces[i].score;
    cJSON *lat = jarr(j, model, "lattice");
    for (size_t i = 0; i < m->n_pieces && lat; i++) {
        const cf_spm_piece *p = &m->pieces[i];
        if (p->type != CF_SPM_NORMAL && p->type != CF_SPM_USER_DEFINED)
            continue;
        double score = p->score;
        if (p->type == CF_SPM_USER_DEFINED) {
            size_t chars = 0;
            for (const char *c = p->piece; *c; c++)
                chars += ((uint8_t)*c & 0xc0) != 0x80;
            score = (double)chars * max_score - 0.1;
        }
        cJSON *e = jarr(j, lat, NULL);
        jstr(j, e, NULL, p->piece);
        jnum(j, e, NULL, score);
    }
}

static cf_status marian_model(json_ctx *j, cJSON *doc, const cf_spm_model *m, const id_table *ids, int64_t unk_id,
                              cf_error *err)
{
    const char **pieces = malloc(m->n_pieces * sizeof *pieces);
    if (!pieces)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    double min_score = 0;
    for (size_t i = 0; i < m->n_pieces; i++) {
        pieces[i] = m->pieces[i].piece;
        if (m->pieces[i].type == CF_SPM_NORMAL && m->pieces[i].score < min_score)
            min_score = m->pieces[i].score;
    }
    cf_unigram *lookup;
    cf_status st = piece_lookup(pieces, m->n_pieces, &lookup, err);
    free(pieces);
    CF_TRY(st);
    cJSON *model = jtyped(j, doc, "model", "Unigram");
    jnum(j, model, "unk_id", (double)unk_id);
    cJSON *vocab = jarr(j, model, "vocab");
    for (size_t i = 0; i < ids->n && vocab; i++) {
        /* the spm score where the piece has one, else the lowest (keeps the unk penalty) */
        int64_t k = cf_unigram_token_to_id(lookup, ids->pieces[i], strlen(ids->pieces[i]));
        cJSON *e = jarr(j, vocab, NULL);
        jstr(j, e, NULL, ids->pieces[i]);
        jnum(j, e, NULL, k >= 0 && m->pieces[k].type == CF_SPM_NORMAL ? m->pieces[k].score : min_score);
    }
    jbool(j, model, "byte_fallback", false);
    marian_lattice(j, model, m);
    cf_unigram_free(lookup);
    return CF_OK;
}

/* A vocab.json entry written >>xxx<< (a target-language code) is a plain added token. */
static bool is_language_code(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && strncmp(s, ">>", 2) == 0 && strcmp(s + n - 2, "<<") == 0;
}

static cf_status convert_marian(json_ctx *j, cJSON *doc, const char *dir, const cf_config *cfg, bool target,
                                cf_error *err)
{
    char spm_path[4096], vocab_path[4096];
    snprintf(spm_path, sizeof spm_path, "%s/%s", dir, target ? "target.spm" : "source.spm");
    bool separate = target && cf_config_bool(cfg, "separate_vocabs", false);
    snprintf(vocab_path, sizeof vocab_path, "%s/%s", dir, separate ? "target_vocab.json" : "vocab.json");
    cf_spm_model m;
    CF_TRY(cf_spm_load(spm_path, &m, err));
    cJSON *tree = NULL;
    id_table ids = {0};
    cf_status st = read_vocab_json(vocab_path, &tree, &ids, err);
    const char *unk = cf_config_str(cfg, "unk_token", "<unk>");
    const char *eos = cf_config_str(cfg, "eos_token", "</s>");
    const char *pad = cf_config_str(cfg, "pad_token", "<pad>");
    int64_t unk_id = -1, eos_id = -1;
    if (st == CF_OK) {
        unk_id = table_id(&ids, unk);
        eos_id = table_id(&ids, eos);
        if (unk_id < 0 || eos_id < 0)
            st = cf_fail(err, CF_ERR_FORMAT, "%s: has no id for the unk token \"%s\" or the eos token \"%s\"",
                         vocab_path, unk, eos);
    }
    const char *specials_of_marian[3] = {eos, unk, pad};
    if (st == CF_OK) {
        cJSON *added = cJSON_GetObjectItemCaseSensitive(doc, "added_tokens");
        const char *const *specials = specials_of_marian;
        for (size_t i = 0; i < ids.n; i++) {
            bool special = false;
            for (int k = 0; k < 3; k++)
                special |= strcmp(ids.pieces[i], specials[k]) == 0;
            if (special || is_language_code(ids.pieces[i]))
                add_added_token(j, added, &(added_token){(int64_t)i, ids.pieces[i], false, false, false, false,
                                                         special});
        }
        st = spm_text_pipeline(j, doc, &m, err);
    }
    if (st == CF_OK) {
        template_spec t = {.eos = eos, .eos_id = eos_id, .pair_eos_a = false, .pair_type_id = 0};
        template_processing(j, doc, &t);
        cJSON *dec = jtyped(j, doc, "decoder", "SentencePieceRuns");
        cJSON *list = jarr(j, dec, "special_tokens");
        for (int k = 0; k < 3; k++)
            jstr(j, list, NULL, specials_of_marian[k]);
        jbool(j, dec, "cleanup", cf_config_bool(cfg, "clean_up_tokenization_spaces", true));
        metaspace(j, dec, "decoder", "always", true);
        st = marian_model(j, doc, &m, &ids, unk_id, err);
    }
    free(ids.pieces);
    cJSON_Delete(tree);
    cf_spm_model_free(&m);
    return st;
}

/* ---- entry points ---- */

static bool config_class_is(const cf_config *cfg, const char *prefix)
{
    const char *cls = cf_config_str(cfg, "tokenizer_class", "");
    return strncmp(cls, prefix, strlen(prefix)) == 0;
}

static cf_status convert_dir(const char *dir, bool target, cJSON **out, cf_error *err)
{
    *out = NULL;
    if (!dir)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cf_spm_convert: NULL folder");
    cf_config cfg;
    CF_TRY(cf_config_load_optional(&cfg, dir, "tokenizer_config.json", err));
    json_ctx j = {0};
    cJSON *doc = new_document(&j);
    if (!doc) {
        cf_config_free(&cfg);
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory building tokenizer.json", dir);
    }
    cf_status st = CF_OK;
    char path[4096];
    if (target || is_marian(dir)) {
        st = convert_marian(&j, doc, dir, &cfg, target, err);
    } else if (!find_model_file(dir, path, sizeof path)) {
        st = cf_fail(err, CF_ERR_NOT_FOUND, "%s: no sentencepiece model (tokenizer.model, spiece.model, *.model)", dir);
    } else {
        cf_spm_model m;
        st = cf_spm_load(path, &m, err);
        if (st == CF_OK) {
            bool is_t5 = config_class_is(&cfg, "T5") || (!cf_config_has(&cfg, "tokenizer_class") &&
                                                         has_suffix(path, "/spiece.model"));
            if (m.trainer.model_type == CF_SPM_BPE)
                st = convert_llama(&j, doc, &m, &cfg, err);
            else if (m.trainer.model_type == CF_SPM_UNIGRAM)
                st = convert_unigram(&j, doc, &m, &cfg, is_t5, err);
            else
                st = cf_fail(err, CF_ERR_UNSUPPORTED, "%s: sentencepiece model_type %d (WORD/CHAR) is not supported",
                             path, m.trainer.model_type);
            cf_spm_model_free(&m);
        }
    }
    cf_config_free(&cfg);
    if (st == CF_OK && j.oom)
        st = cf_fail(err, CF_ERR_NOMEM, "%s: out of memory building tokenizer.json", dir);
    if (st != CF_OK) {
        cJSON_Delete(doc);
        return st;
    }
    *out = doc;
    return CF_OK;
}

cf_status cf_spm_convert_bpe_model(const cf_spm_model *m, const cf_config *cfg, cJSON **tokenizer_json,
                                   cf_error *err)
{
    *tokenizer_json = NULL;
    json_ctx j = {0};
    cJSON *doc = new_document(&j);
    cf_status st = doc ? convert_llama(&j, doc, m, cfg, err) : CF_OK;
    if (st == CF_OK && j.oom)
        st = cf_fail(err, CF_ERR_NOMEM, "out of memory building tokenizer.json");
    if (st != CF_OK) {
        cJSON_Delete(doc);
        return st;
    }
    *tokenizer_json = doc;
    return CF_OK;
}

cf_status cf_spm_convert(const char *dir, cJSON **tokenizer_json, cf_error *err)
{
    return convert_dir(dir, false, tokenizer_json, err);
}

cf_status cf_spm_convert_target(const char *dir, cJSON **tokenizer_json, cf_error *err)
{
    return convert_dir(dir, true, tokenizer_json, err);
}
