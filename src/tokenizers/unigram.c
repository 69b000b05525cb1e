/* Unigram Viterbi segmentation, following Hugging Face tokenizers' Unigram::encode_optimized.
 *
 * best[i] holds the best path ending at byte i: its score, where its last token starts and
 * which lattice piece that token is. Each char start extends best[] with every piece the
 * trie finds there (shorter pieces first; a later candidate must score strictly higher to
 * win), plus an unknown node over one char when no piece covers exactly that char. */
#include "tokenizers/unigram.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizers/grow.h"
#include "tokenizers/normalized.h"

#define UNK_PENALTY 10.0

/* A byte trie: edges (node, byte) -> child in an open-addressing hash table. */
typedef struct trie_edge {
    uint64_t key; /* (node << 8 | byte) + 1; 0 = empty slot */
    uint32_t child;
} trie_edge;

typedef struct byte_trie {
    int64_t *value; /* per node: piece index or -1 */
    size_t n_nodes, cap_nodes;
    trie_edge *edges;
    size_t n_edges, mask;
} byte_trie;

struct cf_unigram {
    size_t n_lattice;
    char **lattice_pieces;
    double *lattice_scores;
    byte_trie lattice;
    int64_t lattice_unk; /* lattice index whose nodes fuse as unknown */
    double unk_score;
    /* the id table (the lattice itself unless mapped) */
    size_t n_vocab;
    char **vocab;
    byte_trie vocab_trie;
    bool mapped;
    int64_t unk_id;
    bool byte_fallback;
};

static uint64_t edge_key(uint32_t node, uint8_t byte) { return (((uint64_t)node << 8) | byte) + 1; }

static size_t edge_slot(uint64_t key, size_t mask)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & mask;
}

static int64_t trie_child(const byte_trie *t, uint32_t node, uint8_t byte)
{
    uint64_t key = edge_key(node, byte);
    for (size_t i = edge_slot(key, t->mask);; i = (i + 1) & t->mask) {
        if (t->edges[i].key == key)
            return t->edges[i].child;
        if (t->edges[i].key == 0)
            return -1;
    }
}

static bool trie_grow_edges(byte_trie *t)
{
    size_t cap = t->edges ? (t->mask + 1) * 2 : 1024;
    trie_edge *e = calloc(cap, sizeof *e);
    if (!e)
        return false;
    for (size_t i = 0; t->edges && i <= t->mask; i++) {
        if (!t->edges[i].key)
            continue;
        size_t j = edge_slot(t->edges[i].key, cap - 1);
        while (e[j].key)
            j = (j + 1) & (cap - 1);
        e[j] = t->edges[i];
    }
    free(t->edges);
    t->edges = e;
    t->mask = cap - 1;
    return true;
}

static int64_t trie_new_node(byte_trie *t)
{
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 1024;
        if (cap > UINT32_MAX)
            return -1;
        int64_t *v = realloc(t->value, cap * sizeof *v);
        if (!v)
            return -1;
        t->value = v;
        t->cap_nodes = cap;
    }
    t->value[t->n_nodes] = -1;
    return (int64_t)t->n_nodes++;
}

static bool trie_init(byte_trie *t)
{
    memset(t, 0, sizeof *t);
    return trie_grow_edges(t) && trie_new_node(t) == 0;
}

/* Insert key -> value; a repeated key takes the later value. */
static bool trie_insert(byte_trie *t, const char *key, size_t len, int64_t value)
{
    uint32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        int64_t child = trie_child(t, node, (uint8_t)key[i]);
        if (child < 0) {
            if ((t->n_edges + 1) * 2 > t->mask + 1 && !trie_grow_edges(t))
                return false;
            child = trie_new_node(t);
            if (child < 0)
                return false;
            uint64_t k = edge_key(node, (uint8_t)key[i]);
            size_t j = edge_slot(k, t->mask);
            while (t->edges[j].key)
                j = (j + 1) & t->mask;
            t->edges[j].key = k;
            t->edges[j].child = (uint32_t)child;
            t->n_edges++;
        }
        node = (uint32_t)child;
    }
    t->value[node] = value;
    return true;
}

static int64_t trie_lookup(const byte_trie *t, const char *key, size_t len)
{
    uint32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        int64_t child = trie_child(t, node, (uint8_t)key[i]);
        if (child < 0)
            return -1;
        node = (uint32_t)child;
    }
    return t->value[node];
}

static void trie_free(byte_trie *t)
{
    free(t->value);
    free(t->edges);
    memset(t, 0, sizeof *t);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void cf_unigram_free(cf_unigram *u)
{
    if (!u)
        return;
    free_strings(u->lattice_pieces, u->n_lattice);
    free(u->lattice_scores);
    trie_free(&u->lattice);
    if (u->mapped) {
        free_strings(u->vocab, u->n_vocab);
        trie_free(&u->vocab_trie);
    }
    free(u);
}

/* Copy the pieces into `dst` and a trie; checks each is a valid, non-empty UTF-8 string. */
static cf_status build_table(const char *const *pieces, size_t n, const char *what, char ***dst, byte_trie *trie,
                             cf_error *err)
{
    *dst = calloc(n ? n : 1, sizeof **dst);
    if (!*dst || !trie_init(trie))
        return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory for %zu %s pieces", n, what);
    for (size_t i = 0; i < n; i++) {
        if (!pieces[i])
            return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: %s piece %zu is NULL", what, i);
        size_t len = strlen(pieces[i]);
        size_t bad = cf_utf8_invalid_at(pieces[i], len);
        if (bad != len)
            return cf_fail(err, CF_ERR_FORMAT, "unigram: %s piece %zu is not valid UTF-8 (byte %zu)", what, i, bad);
        (*dst)[i] = cf_strdup(pieces[i]);
        if (!(*dst)[i] || !trie_insert(trie, pieces[i], len, (int64_t)i))
            return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory for %s piece %zu", what, i);
    }
    return CF_OK;
}

static cf_status init_lattice(cf_unigram *u, const char *const *pieces, const double *scores, size_t n,
                              cf_error *err)
{
    if (n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "unigram: the vocabulary is empty");
    u->n_lattice = n;
    u->lattice_scores = malloc(n * sizeof *u->lattice_scores);
    if (!u->lattice_scores)
        return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory for %zu scores", n);
    double min_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(scores[i]))
            return cf_fail(err, CF_ERR_FORMAT, "unigram: piece %zu has a non-finite score", i);
        u->lattice_scores[i] = scores[i];
        if (scores[i] < min_score)
            min_score = scores[i];
    }
    u->unk_score = min_score - UNK_PENALTY;
    return build_table(pieces, n, "lattice", &u->lattice_pieces, &u->lattice, err);
}

cf_status cf_unigram_new(const char *const *pieces, const double *scores, size_t n, int64_t unk_id,
                         bool byte_fallback, cf_unigram **out, cf_error *err)
{
    *out = NULL;
    if ((!pieces || !scores) && n)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: NULL pieces or scores");
    cf_unigram *u = calloc(1, sizeof *u);
    if (!u)
        return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory");
    cf_status st = init_lattice(u, pieces, scores, n, err);
    if (st == CF_OK && unk_id >= (int64_t)n)
        st = cf_fail(err, CF_ERR_FORMAT, "unigram: unk_id %lld is not in the vocabulary of %zu pieces",
                     (long long)unk_id, n);
    if (st != CF_OK) {
        cf_unigram_free(u);
        return st;
    }
    u->unk_id = unk_id < 0 ? -1 : unk_id;
    u->lattice_unk = u->unk_id;
    u->vocab = u->lattice_pieces;
    u->n_vocab = n;
    u->vocab_trie = u->lattice;
    u->byte_fallback = byte_fallback;
    *out = u;
    return CF_OK;
}

cf_status cf_unigram_new_mapped(const char *const *lattice_pieces, const double *lattice_scores, size_t n_lattice,
                                const char *const *vocab, size_t n_vocab, int64_t unk_id, bool byte_fallback,
                                cf_unigram **out, cf_error *err)
{
    *out = NULL;
    if ((!lattice_pieces || !lattice_scores) && n_lattice)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: NULL lattice pieces or scores");
    if (!vocab && n_vocab)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: NULL vocabulary");
    cf_unigram *u = calloc(1, sizeof *u);
    if (!u)
        return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory");
    u->mapped = true;
    cf_status st = init_lattice(u, lattice_pieces, lattice_scores, n_lattice, err);
    if (st == CF_OK)
        st = build_table(vocab, n_vocab, "vocabulary", &u->vocab, &u->vocab_trie, err);
    u->n_vocab = n_vocab;
    if (st == CF_OK && unk_id >= (int64_t)n_vocab)
        st = cf_fail(err, CF_ERR_FORMAT, "unigram: unk_id %lld is not in the vocabulary of %zu pieces",
                     (long long)unk_id, n_vocab);
    if (st != CF_OK) {
        cf_unigram_free(u);
        return st;
    }
    u->unk_id = unk_id < 0 ? -1 : unk_id;
    u->lattice_unk = (int64_t)n_lattice; /* no lattice piece: only unknown nodes fuse */
    u->byte_fallback = byte_fallback;
    *out = u;
    return CF_OK;
}

/* ---- encoding ---- */

typedef struct best_node {
    double score;
    uint32_t start; /* UINT32_MAX: not reached yet */
    int32_t id;     /* lattice index (or lattice_unk) */
} best_node;

static size_t utf8_char_len(uint8_t lead)
{
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

static void relax(best_node *target, double score, size_t start, int64_t id)
{
    if (target->start == UINT32_MAX || score > target->score) {
        target->score = score;
        target->start = (uint32_t)start;
        target->id = (int32_t)id;
    }
}

/* Fill best[] over s[0, len). */
static void viterbi(const cf_unigram *u, const char *s, size_t len, best_node *best)
{
    for (size_t i = 0; i <= len; i++)
        best[i] = (best_node){0.0, UINT32_MAX, 0};
    for (size_t at = 0; at < len;) {
        double here = best[at].score;
        size_t mblen = utf8_char_len((uint8_t)s[at]);
        bool has_single = false;
        uint32_t node = 0;
        for (size_t k = at; k < len; k++) {
            int64_t child = trie_child(&u->lattice, node, (uint8_t)s[k]);
            if (child < 0)
                break;
            node = (uint32_t)child;
            int64_t id = u->lattice.value[node];
            if (id < 0)
                continue;
            relax(&best[k + 1], u->lattice_scores[id] + here, at, id);
            if (k + 1 - at == mblen)
                has_single = true;
        }
        if (!has_single)
            relax(&best[at + mblen], u->unk_score + here, at, u->lattice_unk);
        at += mblen;
    }
}

typedef struct token_list {
    cf_unigram_token *v;
    size_t n, cap;
} token_list;

static bool push_token(token_list *l, int64_t id, size_t start, size_t end)
{
    cf_unigram_token *v = cf_grow_for_one(l->v, l->n, &l->cap, sizeof *v, 16);
    if (!v)
        return false;
    l->v = v;
    l->v[l->n++] = (cf_unigram_token){id, start, end};
    return true;
}

/* Token(s) for the string s[start, end), pushed in reverse order (the list is reversed at
 * the end): its vocabulary id, else its <0xXX> bytes, else unk. */
static cf_status emit_string(const cf_unigram *u, const char *s, size_t start, size_t end, token_list *out,
                             cf_error *err)
{
    int64_t id = trie_lookup(&u->vocab_trie, s + start, end - start);
    if (id >= 0)
        return push_token(out, id, start, end) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory");
    if (u->byte_fallback) {
        size_t mark = out->n;
        bool all = true;
        for (size_t i = end; i > start && all; i--) {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", (unsigned)(uint8_t)s[i - 1]);
            int64_t b = trie_lookup(&u->vocab_trie, name, 6);
            all = b >= 0;
            if (all && !push_token(out, b, start, end))
                return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory");
        }
        if (all)
            return CF_OK;
        out->n = mark;
    }
    if (u->unk_id < 0)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "unigram: bytes [%zu, %zu) match no piece and the model has no unk_id", start, end);
    return push_token(out, u->unk_id, start, end) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory");
}

/* Walk best[] back from the end, fusing runs of unknown nodes into one string. */
static cf_status backtrack(const cf_unigram *u, const char *s, size_t len, const best_node *best, token_list *out,
                           cf_error *err)
{
    size_t unk_end = SIZE_MAX; /* end of the pending fused unknown run */
    size_t end = len;
    while (end > 0) {
        const best_node *node = &best[end];
        size_t start = node->start;
        if (node->id == u->lattice_unk) {
            if (unk_end == SIZE_MAX)
                unk_end = end;
        } else {
            if (unk_end != SIZE_MAX) {
                CF_TRY(emit_string(u, s, end, unk_end, out, err));
                unk_end = SIZE_MAX;
            }
            CF_TRY(emit_string(u, s, start, end, out, err));
        }
        end = start;
    }
    if (unk_end != SIZE_MAX)
        CF_TRY(emit_string(u, s, 0, unk_end, out, err));
    for (size_t i = 0; i < out->n / 2; i++) {
        cf_unigram_token t = out->v[i];
        out->v[i] = out->v[out->n - 1 - i];
        out->v[out->n - 1 - i] = t;
    }
    return CF_OK;
}

cf_status cf_unigram_encode(const cf_unigram *u, const char *s, size_t len, cf_unigram_token **toks, size_t *n,
                            cf_error *err)
{
    *toks = NULL;
    *n = 0;
    if (!u || (!s && len))
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: NULL argument");
    if (len == 0)
        return CF_OK;
    if (len >= UINT32_MAX)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: input of %zu bytes is over the 4 GiB limit", len);
    size_t bad = cf_utf8_invalid_at(s, len);
    if (bad != len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "unigram: invalid UTF-8 at byte offset %zu", bad);
    best_node *best = malloc((len + 1) * sizeof *best);
    if (!best)
        return cf_fail(err, CF_ERR_NOMEM, "unigram: out of memory for a %zu-byte lattice", len);
    viterbi(u, s, len, best);
    token_list out = {0};
    cf_status st = backtrack(u, s, len, best, &out, err);
    free(best);
    if (st != CF_OK) {
        free(out.v);
        return st;
    }
    *toks = out.v;
    *n = out.n;
    return CF_OK;
}

size_t cf_unigram_vocab_size(const cf_unigram *u) { return u ? u->n_vocab : 0; }

const char *cf_unigram_id_to_token(const cf_unigram *u, int64_t id)
{
    return u && id >= 0 && (size_t)id < u->n_vocab ? u->vocab[id] : NULL;
}

int64_t cf_unigram_token_to_id(const cf_unigram *u, const char *token, size_t len)
{
    return u && token ? trie_lookup(&u->vocab_trie, token, len) : -1;
}

/* ---- tokenizer.json ---- */

typedef struct scored_list {
    const char **pieces;
    double *scores;
    size_t n;
} scored_list;

static cf_status read_scored(const cJSON *arr, const char *key, scored_list *l, cf_error *err)
{
    memset(l, 0, sizeof *l);
    if (!cJSON_IsArray(arr))
        return cf_fail(err, CF_ERR_FORMAT, "Unigram model: \"%s\" must be an array of [piece, score]", key);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    l->pieces = calloc(n ? n : 1, sizeof *l->pieces);
    l->scores = calloc(n ? n : 1, sizeof *l->scores);
    if (!l->pieces || !l->scores)
        return cf_fail(err, CF_ERR_NOMEM, "Unigram model: out of memory for %zu pieces", n);
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *p = cJSON_GetArrayItem(e, 0), *sc = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(sc))
            return cf_fail(err, CF_ERR_FORMAT, "Unigram model: \"%s\"[%zu] is not a [string, number] pair", key, i);
        l->pieces[i] = p->valuestring;
        l->scores[i] = sc->valuedouble;
        i++;
    }
    l->n = i;
    return CF_OK;
}

static void free_scored(scored_list *l)
{
    free(l->pieces);
    free(l->scores);
}

cf_status cf_unigram_from_json(const cJSON *model, cf_unigram **out, cf_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(model))
        return cf_fail(err, CF_ERR_FORMAT, "Unigram model: not a JSON object");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_id");
    int64_t unk_id = -1;
    if (cJSON_IsNumber(unk)) {
        if (unk->valuedouble < 0 || unk->valuedouble != floor(unk->valuedouble) || unk->valuedouble > 1e15)
            return cf_fail(err, CF_ERR_FORMAT, "Unigram model: unk_id %g is not a vocabulary index", unk->valuedouble);
        unk_id = (int64_t)unk->valuedouble;
    } else if (unk && !cJSON_IsNull(unk)) {
        return cf_fail(err, CF_ERR_FORMAT, "Unigram model: unk_id must be a number or null");
    }
    bool byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"));
    scored_list vocab, lattice = {0};
    cf_status st = read_scored(cJSON_GetObjectItemCaseSensitive(model, "vocab"), "vocab", &vocab, err);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(model, "lattice");
    if (st == CF_OK && lat && !cJSON_IsNull(lat))
        st = read_scored(lat, "lattice", &lattice, err);
    if (st == CF_OK && lattice.pieces)
        st = cf_unigram_new_mapped(lattice.pieces, lattice.scores, lattice.n, vocab.pieces, vocab.n, unk_id,
                                   byte_fallback, out, err);
    else if (st == CF_OK)
        st = cf_unigram_new(vocab.pieces, vocab.scores, vocab.n, unk_id, byte_fallback, out, err);
    free_scored(&vocab);
    free_scored(&lattice);
    return st;
}
