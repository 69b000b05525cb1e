/* Added tokens: matched in the text before the model sees it (leftmost-longest, with the
 * single_word / lstrip / rstrip rules), either on the raw text or on the normalized text. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory matching added tokens"); }

/* ------------------------------------------------------------ byte trie */

typedef struct trie_node {
    int32_t child, sibling; /* -1 none */
    int32_t token;          /* index into the added vocab, -1 none */
    uint8_t byte;
} trie_node;

struct cf_trie {
    trie_node *v;
    size_t n, cap;
    uint8_t first[32]; /* bitmap of bytes that start some pattern */
};

static int32_t trie_new_node(cf_trie *t, uint8_t byte)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        trie_node *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n] = (trie_node){-1, -1, -1, byte};
    return (int32_t)t->n++;
}

static int32_t trie_child(const cf_trie *t, int32_t node, uint8_t byte)
{
    for (int32_t c = t->v[node].child; c >= 0; c = t->v[c].sibling)
        if (t->v[c].byte == byte)
            return c;
    return -1;
}

static bool trie_insert(cf_trie *t, const char *s, size_t len, int32_t token)
{
    if (len == 0)
        return true;
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = trie_child(t, node, b);
        if (c < 0) {
            if ((c = trie_new_node(t, b)) < 0)
                return false;
            t->v[c].sibling = t->v[node].child;
            t->v[node].child = c;
        }
        node = c;
    }
    if (t->v[node].token < 0) /* the first token with this text wins */
        t->v[node].token = token;
    t->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
    return true;
}

static cf_trie *trie_create(void)
{
    cf_trie *t = calloc(1, sizeof *t);
    if (t && trie_new_node(t, 0) < 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void trie_free(cf_trie *t)
{
    if (t)
        free(t->v);
    free(t);
}

/* Longest pattern starting at s[0]; returns its length (0 if none) and token index. */
static size_t trie_longest(const cf_trie *t, const char *s, size_t len, int32_t *token)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        node = trie_child(t, node, (uint8_t)s[i]);
        if (node < 0)
            break;
        if (t->v[node].token >= 0) {
            best = i + 1;
            *token = t->v[node].token;
        }
    }
    return best;
}

/* ------------------------------------------------------------ vocabulary */

cf_status cf_added_add(cf_added_vocab *av, const cf_added_token *t, cf_error *err)
{
    if (cf_vocab_find(&av->by_content, t->content, strlen(t->content)) >= 0)
        return CF_OK;
    if (av->n == av->cap) {
        size_t cap = av->cap ? av->cap * 2 : 16;
        cf_added_token *v = realloc(av->v, cap * sizeof *v);
        if (!v)
            return oom(err);
        av->v = v;
        av->cap = cap;
    }
    cf_added_token copy = *t;
    if (!(copy.content = strdup(t->content)))
        return oom(err);
    av->v[av->n++] = copy;
    /* content -> index in v (not the id: ids may repeat across contents) */
    bool added;
    return cf_vocab_add(&av->by_content, t->content, strlen(t->content), (int64_t)(av->n - 1), &added, err);
}

cf_status cf_added_parse(const cJSON *arr, cf_added_vocab *out, cf_error *err)
{
    if (!arr || cJSON_IsNull(arr))
        return CF_OK;
    if (!cJSON_IsArray(arr))
        return cf_fail(err, CF_ERR_FORMAT, "tokenizer.json: \"added_tokens\" must be an array");
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *w = "tokenizer.json added_tokens entry";
        cf_added_token t = {0};
        t.id = -1;
        const char *content = NULL;
        CF_TRY(cf_json_string(it, "content", w, &content, err));
        CF_TRY(cf_json_int(it, "id", w, &t.id, err));
        if (!content || !*content || t.id < 0 || t.id > INT32_MAX)
            return cf_fail(err, CF_ERR_FORMAT, "tokenizer.json: added_tokens[%zu] needs a non-empty \"content\" and an \"id\" >= 0", i);
        t.content = (char *)content;
        t.normalized = true;
        CF_TRY(cf_json_bool(it, "single_word", w, &t.single_word, err));
        CF_TRY(cf_json_bool(it, "lstrip", w, &t.lstrip, err));
        CF_TRY(cf_json_bool(it, "rstrip", w, &t.rstrip, err));
        CF_TRY(cf_json_bool(it, "special", w, &t.special, err));
        if (t.special)
            t.normalized = false;
        CF_TRY(cf_json_bool(it, "normalized", w, &t.normalized, err));
        CF_TRY(cf_added_add(out, &t, err));
        i++;
    }
    return CF_OK;
}

cf_status cf_added_build(cf_added_vocab *av, const cf_normalizer *norm, cf_error *err)
{
    trie_free(av->raw_trie);
    trie_free(av->norm_trie);
    av->raw_trie = trie_create();
    av->norm_trie = trie_create();
    if (!av->raw_trie || !av->norm_trie)
        return oom(err);
    for (size_t i = 0; i < av->n; i++) {
        const cf_added_token *t = &av->v[i];
        if (!t->normalized || !norm) {
            if (!trie_insert(t->normalized ? av->norm_trie : av->raw_trie, t->content, strlen(t->content), (int32_t)i))
                return oom(err);
            continue;
        }
        cf_normalized ns;
        CF_TRY(cf_normalized_init(&ns, t->content, 0, strlen(t->content), err));
        cf_status st = cf_normalizer_apply(norm, &ns, err);
        if (st == CF_OK && !trie_insert(av->norm_trie, ns.text, ns.len, (int32_t)i))
            st = oom(err);
        cf_normalized_free(&ns);
        CF_TRY(st);
    }
    return CF_OK;
}

const cf_added_token *cf_added_find_id(const cf_added_vocab *av, int64_t id)
{
    for (size_t i = 0; i < av->n; i++)
        if (av->v[i].id == id)
            return &av->v[i];
    return NULL;
}

void cf_added_free(cf_added_vocab *av)
{
    for (size_t i = 0; i < av->n; i++)
        free(av->v[i].content);
    free(av->v);
    cf_vocab_free(&av->by_content);
    trie_free(av->raw_trie);
    trie_free(av->norm_trie);
    memset(av, 0, sizeof *av);
}

/* ------------------------------------------------------------ matching */

static bool is_word_char(uint32_t c)
{
    if (c == '_' || cf_uc_is_alphanumeric(c))
        return true;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_MC || k == UTF8PROC_CATEGORY_ME ||
           k == UTF8PROC_CATEGORY_PC;
}

/* Splits (None or token index, start, end) of `s`, as AddedVocabulary::find_matches. */
static cf_status find_matches(const cf_added_vocab *av, const cf_trie *trie, const char *s, size_t len,
                              cf_matches *out, int32_t **tok_of, size_t *tok_cap, cf_error *err)
{
    out->n = 0;
    size_t start_offset = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t b = (uint8_t)s[i];
        if (!(trie->first[b >> 3] & (1u << (b & 7)))) {
            i++;
            continue;
        }
        int32_t tok = -1;
        size_t mlen = trie_longest(trie, s + i, len - i, &tok);
        if (mlen == 0) {
            i++;
            continue;
        }
        size_t start = i, stop = i + mlen;
        i = stop;
        const cf_added_token *t = &av->v[tok];
        if (t->single_word) {
            bool start_space = true, stop_space = true;
            if (start > 0) {
                size_t k = start;
                do
                    k--;
                while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80);
                size_t n;
                start_space = !is_word_char(cf_utf8_decode(s + k, &n));
            }
            if (stop < len) {
                size_t n;
                stop_space = !is_word_char(cf_utf8_decode(s + stop, &n));
            }
            if (!start_space || !stop_space)
                continue;
        }
        if (t->lstrip) {
            size_t k = start;
            while (k > 0) {
                size_t p = k;
                do
                    p--;
                while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80);
                size_t n;
                if (!cf_uc_is_whitespace(cf_utf8_decode(s + p, &n)))
                    break;
                k = p;
            }
            start = k > start_offset ? k : start_offset;
        }
        if (t->rstrip) {
            while (stop < len) {
                size_t n;
                if (!cf_uc_is_whitespace(cf_utf8_decode(s + stop, &n)))
                    break;
                stop += n;
            }
            if (i < stop)
                i = stop;
        }
        if (out->n + 2 > *tok_cap) {
            size_t cap = (*tok_cap ? *tok_cap * 2 : 16) + 2;
            int32_t *v = realloc(*tok_of, cap * sizeof *v);
            if (!v)
                return oom(err);
            *tok_of = v;
            *tok_cap = cap;
        }
        if (start_offset < start) {
            (*tok_of)[out->n] = -1;
            if (!cf_matches_push(out, start_offset, start, false))
                return oom(err);
        }
        (*tok_of)[out->n] = tok;
        if (!cf_matches_push(out, start, stop, true))
            return oom(err);
        start_offset = stop;
    }
    if (start_offset != len) {
        if (out->n + 1 > *tok_cap) {
            size_t cap = *tok_cap + 16;
            int32_t *v = realloc(*tok_of, cap * sizeof *v);
            if (!v)
                return oom(err);
            *tok_of = v;
            *tok_cap = cap;
        }
        (*tok_of)[out->n] = -1;
        if (!cf_matches_push(out, start_offset, len, false))
            return oom(err);
    }
    return CF_OK;
}

/* Splits `ns` around the added tokens of `trie`, appending pieces (tokens already set) to out. */
static cf_status split_added(const cf_added_vocab *av, const cf_trie *trie, cf_normalized *ns, cf_pretokenized *out,
                             cf_matches *m, int32_t **tok_of, size_t *tok_cap, cf_error *err)
{
    if (ns->len == 0)
        return CF_OK;
    if (trie->n <= 1) /* no patterns: the whole piece goes on */
        return cf_pretokenized_push(out, ns, err);
    CF_TRY(find_matches(av, trie, ns->text, ns->len, m, tok_of, tok_cap, err));
    for (size_t i = 0; i < m->n; i++) {
        if (m->v[i].end <= m->v[i].start)
            continue;
        cf_normalized piece;
        CF_TRY(cf_normalized_slice(ns, m->v[i].start, m->v[i].end, &piece, err));
        size_t plen = piece.len;
        CF_TRY(cf_pretokenized_push(out, &piece, err));
        int32_t tok = (*tok_of)[i];
        if (tok >= 0) {
            cf_split *sp = &out->v[out->n - 1];
            sp->tokenized = sp->added = true;
            if (!cf_toks_push(&sp->toks, av->v[tok].id, 0, plen))
                return oom(err);
        }
    }
    return CF_OK;
}

cf_status cf_added_extract_and_normalize(const cf_added_vocab *av, const cf_normalizer *norm, const char *text,
                                         size_t len, cf_pretokenized *out, cf_error *err)
{
    out->original = text;
    out->original_len = len;
    if (len == 0)
        return CF_OK;
    cf_normalized whole;
    CF_TRY(cf_normalized_init(&whole, text, 0, len, err));
    cf_pretokenized stage = {text, len, NULL, 0, 0};
    cf_matches m = {0};
    int32_t *tok_of = NULL;
    size_t tok_cap = 0;
    cf_status st = split_added(av, av->raw_trie, &whole, &stage, &m, &tok_of, &tok_cap, err);
    cf_normalized_free(&whole);
    for (size_t i = 0; i < stage.n && st == CF_OK; i++) {
        cf_split *sp = &stage.v[i];
        if (sp->tokenized) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 16;
                cf_split *v = realloc(out->v, cap * sizeof *v);
                if (!v) {
                    st = oom(err);
                    break;
                }
                out->v = v;
                out->cap = cap;
            }
            out->v[out->n++] = *sp;
            memset(sp, 0, sizeof *sp);
            continue;
        }
        if (norm)
            st = cf_normalizer_apply(norm, &sp->ns, err);
        if (st == CF_OK)
            st = split_added(av, av->norm_trie, &sp->ns, out, &m, &tok_of, &tok_cap, err);
    }
    free(m.v);
    free(tok_of);
    cf_pretokenized_free(&stage);
    return st;
}
