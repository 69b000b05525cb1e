/* BPE: merges applied lowest rank first through a priority queue over a linked list of
 * symbols (linear-logarithmic in the word length), with a word cache. Covers byte-level
 * (GPT-2) and sentencepiece-style (byte_fallback, fuse_unk, ignore_merges) files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory in the BPE model"); }

/* ------------------------------------------------------------ merge map */

static uint64_t pair_key(uint32_t a, uint32_t b) { return (((uint64_t)a << 32) | b) + 1; }

static size_t pair_slot(const cf_merge_map *mm, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 20) & (mm->n_slots - 1);
}

static bool merge_find(const cf_merge_map *mm, uint32_t a, uint32_t b, uint32_t *rank, uint32_t *new_id)
{
    if (!mm->n_slots)
        return false;
    uint64_t key = pair_key(a, b);
    for (size_t s = pair_slot(mm, key);; s = (s + 1) & (mm->n_slots - 1)) {
        if (mm->keys[s] == 0)
            return false;
        if (mm->keys[s] == key) {
            *rank = mm->rank[s];
            *new_id = mm->new_id[s];
            return true;
        }
    }
}

static cf_status merge_map_init(cf_merge_map *mm, size_t n, cf_error *err)
{
    size_t slots = 64;
    while (slots < n * 2)
        slots *= 2;
    mm->keys = calloc(slots, sizeof *mm->keys);
    mm->rank = calloc(slots, sizeof *mm->rank);
    mm->new_id = calloc(slots, sizeof *mm->new_id);
    mm->n_slots = slots;
    return mm->keys && mm->rank && mm->new_id ? CF_OK : oom(err);
}

/* A later duplicate of a pair overwrites the earlier one, as collecting into a map does. */
static void merge_put(cf_merge_map *mm, uint32_t a, uint32_t b, uint32_t rank, uint32_t new_id)
{
    uint64_t key = pair_key(a, b);
    size_t s = pair_slot(mm, key);
    while (mm->keys[s] != 0 && mm->keys[s] != key)
        s = (s + 1) & (mm->n_slots - 1);
    if (mm->keys[s] == 0)
        mm->count++;
    mm->keys[s] = key;
    mm->rank[s] = rank;
    mm->new_id[s] = new_id;
}

/* ------------------------------------------------------------ word cache */

#define CACHE_SHARDS 16
#define CACHE_SHARD_SLOTS 4096 /* 64K slots in all; a shard 3/4 full stops caching */
#define CACHE_MAX_WORD 256

typedef struct cache_entry {
    char *word;
    uint32_t word_len, n;
    uint64_t hash;
    uint32_t *pieces; /* n x (id, byte length) */
} cache_entry;

typedef struct cache_shard {
    pthread_mutex_t lock;
    cache_entry slots[CACHE_SHARD_SLOTS];
    size_t count;
} cache_shard;

struct cf_bpe_cache {
    cache_shard shards[CACHE_SHARDS];
};

static cf_bpe_cache *cache_new(void)
{
    cf_bpe_cache *c = calloc(1, sizeof *c);
    if (c)
        for (int i = 0; i < CACHE_SHARDS; i++)
            pthread_mutex_init(&c->shards[i].lock, NULL);
    return c;
}

static void cache_free(cf_bpe_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < CACHE_SHARDS; i++) {
        for (size_t k = 0; k < CACHE_SHARD_SLOTS; k++) {
            free(c->shards[i].slots[k].word);
            free(c->shards[i].slots[k].pieces);
        }
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    free(c);
}

/* Appends the cached tokens of `word` to out; false on a miss. */
static bool cache_get(cf_bpe_cache *c, const char *word, size_t len, uint64_t h, cf_toks *out, bool *oom_flag)
{
    cache_shard *sh = &c->shards[h % CACHE_SHARDS];
    bool hit = false;
    pthread_mutex_lock(&sh->lock);
    for (size_t s = (h >> 8) & (CACHE_SHARD_SLOTS - 1);; s = (s + 1) & (CACHE_SHARD_SLOTS - 1)) {
        cache_entry *e = &sh->slots[s];
        if (!e->word)
            break;
        if (e->hash == h && e->word_len == len && memcmp(e->word, word, len) == 0) {
            size_t at = 0;
            for (uint32_t i = 0; i < e->n; i++) {
                if (!cf_toks_push(out, e->pieces[2 * i], at, at + e->pieces[2 * i + 1]))
                    *oom_flag = true;
                at += e->pieces[2 * i + 1];
            }
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return hit;
}

static void cache_put(cf_bpe_cache *c, const char *word, size_t len, uint64_t h, const cf_tok *toks, size_t n)
{
    cache_shard *sh = &c->shards[h % CACHE_SHARDS];
    pthread_mutex_lock(&sh->lock);
    if (sh->count * 4 < CACHE_SHARD_SLOTS * 3) {
        size_t s = (h >> 8) & (CACHE_SHARD_SLOTS - 1);
        bool present = false;
        while (sh->slots[s].word) {
            cache_entry *e = &sh->slots[s];
            if (e->hash == h && e->word_len == len && memcmp(e->word, word, len) == 0) {
                present = true;
                break;
            }
            s = (s + 1) & (CACHE_SHARD_SLOTS - 1);
        }
        cache_entry *e = &sh->slots[s];
        if (!present) {
            char *w = malloc(len + 1);
            uint32_t *p = malloc((n ? n : 1) * 2 * sizeof *p);
            if (w && p) {
                memcpy(w, word, len);
                w[len] = '\0';
                for (size_t i = 0; i < n; i++) {
                    p[2 * i] = (uint32_t)toks[i].id;
                    p[2 * i + 1] = toks[i].end - toks[i].start;
                }
                *e = (cache_entry){w, (uint32_t)len, (uint32_t)n, h, p};
                sh->count++;
            } else {
                free(w);
                free(p);
            }
        }
    }
    pthread_mutex_unlock(&sh->lock);
}

/* ------------------------------------------------------------ parsing */

static cf_status split_merge(const cJSON *it, size_t i, const char **a, size_t *alen, const char **b, cf_error *err)
{
    if (cJSON_IsString(it)) {
        const char *s = it->valuestring;
        const char *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return cf_fail(err, CF_ERR_FORMAT, "tokenizer.json BPE model: merge %zu \"%.64s\" is not two tokens separated by one space", i, s);
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        return CF_OK;
    }
    const cJSON *x = cJSON_GetArrayItem(it, 0), *y = cJSON_GetArrayItem(it, 1);
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsString(x) || !cJSON_IsString(y))
        return cf_fail(err, CF_ERR_FORMAT, "tokenizer.json BPE model: merge %zu must be \"a b\" or [\"a\", \"b\"]", i);
    *a = x->valuestring;
    *alen = strlen(x->valuestring);
    *b = y->valuestring;
    return CF_OK;
}

cf_status cf_bpe_parse(const cJSON *j, cf_model *m, cf_error *err)
{
    const char *w = "tokenizer.json BPE model";
    CF_TRY(cf_model_parse_vocab_object(cJSON_GetObjectItemCaseSensitive(j, "vocab"), w, &m->vocab, err));
    const char *unk = NULL, *prefix = NULL, *suffix = NULL;
    CF_TRY(cf_json_string(j, "unk_token", w, &unk, err));
    CF_TRY(cf_json_string(j, "continuing_subword_prefix", w, &prefix, err));
    CF_TRY(cf_json_string(j, "end_of_word_suffix", w, &suffix, err));
    CF_TRY(cf_json_bool(j, "fuse_unk", w, &m->fuse_unk, err));
    CF_TRY(cf_json_bool(j, "byte_fallback", w, &m->byte_fallback, err));
    CF_TRY(cf_json_bool(j, "ignore_merges", w, &m->ignore_merges, err));
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(j, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0.0)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: BPE dropout %g is not supported (inference uses none)", w,
                       dropout->valuedouble);
    if ((unk && !(m->unk_token = strdup(unk))) || (prefix && !(m->continuing_subword_prefix = strdup(prefix))) ||
        (suffix && !(m->end_of_word_suffix = strdup(suffix))))
        return oom(err);
    m->unk_id = unk ? cf_vocab_find(&m->vocab, unk, strlen(unk)) : -1;
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        m->byte_ids[b] = cf_vocab_find(&m->vocab, name, strlen(name));
    }
    const cJSON *merges = NULL;
    CF_TRY(cf_json_array(j, "merges", w, &merges, err));
    size_t n = merges ? (size_t)cJSON_GetArraySize(merges) : 0;
    CF_TRY(merge_map_init(&m->merges, n, err));
    size_t plen = prefix ? strlen(prefix) : 0;
    char stackbuf[1024];
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, merges)
    {
        const char *a = NULL, *b = NULL;
        size_t alen = 0;
        CF_TRY(split_merge(it, i, &a, &alen, &b, err));
        size_t blen = strlen(b);
        int64_t ida = cf_vocab_find(&m->vocab, a, alen), idb = cf_vocab_find(&m->vocab, b, blen);
        if (ida < 0 || idb < 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: merge %zu uses \"%.*s\", which is not in the vocabulary", w, i,
                           ida < 0 ? (int)(alen > 64 ? 64 : alen) : (int)(blen > 64 ? 64 : blen), ida < 0 ? a : b);
        size_t skip = plen <= blen ? plen : blen;
        if (alen + blen - skip > sizeof stackbuf)
            return cf_fail(err, CF_ERR_FORMAT, "%s: merge %zu is longer than %zu bytes", w, i, sizeof stackbuf);
        memcpy(stackbuf, a, alen);
        memcpy(stackbuf + alen, b + skip, blen - skip);
        int64_t idn = cf_vocab_find(&m->vocab, stackbuf, alen + blen - skip);
        if (idn < 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: merge %zu makes \"%.*s\", which is not in the vocabulary", w, i,
                           (int)(alen + blen - skip > 64 ? 64 : alen + blen - skip), stackbuf);
        merge_put(&m->merges, (uint32_t)ida, (uint32_t)idb, (uint32_t)i, (uint32_t)idn);
        i++;
    }
    m->cache = cache_new();
    return m->cache ? CF_OK : oom(err);
}

void cf_bpe_free(cf_model *m)
{
    free(m->merges.keys);
    free(m->merges.rank);
    free(m->merges.new_id);
    cache_free(m->cache);
    m->cache = NULL;
}

/* ------------------------------------------------------------ merging */

typedef struct symbol {
    uint32_t id;
    int32_t prev, next;
    uint32_t len; /* bytes; 0 once merged into its left neighbour */
} symbol;

typedef struct merge_item {
    uint32_t rank, pos, new_id;
} merge_item;

typedef struct heap {
    merge_item *v;
    size_t n, cap;
    bool borrowed; /* v is a caller's buffer (not malloc'ed) */
} heap;

/* Grow a buffer that may start as a caller's stack array. */
static void *grow(void *v, bool *borrowed, size_t old_n, size_t new_cap, size_t size)
{
    void *nv = *borrowed ? malloc(new_cap * size) : realloc(v, new_cap * size);
    if (nv && *borrowed)
        memcpy(nv, v, old_n * size);
    if (nv)
        *borrowed = false;
    return nv;
}

static bool item_less(merge_item a, merge_item b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static bool heap_push(heap *h, merge_item x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        merge_item *v = grow(h->v, &h->borrowed, h->n, cap, sizeof *v);
        if (!v)
            return false;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && item_less(x, h->v[(i - 1) / 2])) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
    return true;
}

static merge_item heap_pop(heap *h)
{
    merge_item top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && item_less(h->v[c + 1], h->v[c]))
            c++;
        if (!item_less(h->v[c], x))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = x;
    return top;
}

typedef struct word {
    symbol *v;
    size_t n, cap;
    bool borrowed;
} word;

static bool word_add(word *w, uint32_t id, size_t len)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 32;
        symbol *v = grow(w->v, &w->borrowed, w->n, cap, sizeof *v);
        if (!v)
            return false;
        w->v = v;
        w->cap = cap;
    }
    int32_t i = (int32_t)w->n;
    w->v[w->n++] = (symbol){id, i - 1, i + 1, (uint32_t)len};
    return true;
}

static cf_status merge_all(const cf_merge_map *mm, word *w, cf_error *err)
{
    if (w->n < 2)
        return CF_OK;
    w->v[w->n - 1].next = -1;
    merge_item stack_items[128];
    heap h = {stack_items, 0, 128, true};
    uint32_t rank, nid;
    for (size_t i = 0; i + 1 < w->n; i++)
        if (merge_find(mm, w->v[i].id, w->v[i + 1].id, &rank, &nid) &&
            !heap_push(&h, (merge_item){rank, (uint32_t)i, nid})) {
            if (!h.borrowed)
                free(h.v);
            return oom(err);
        }
    while (h.n) {
        merge_item top = heap_pop(&h);
        symbol *cur = &w->v[top.pos];
        if (cur->len == 0 || cur->next < 0)
            continue;
        int32_t right_pos = cur->next;
        symbol *right = &w->v[right_pos];
        if (!merge_find(mm, cur->id, right->id, &rank, &nid) || nid != top.new_id)
            continue; /* a stale entry */
        cur->id = top.new_id;
        cur->len += right->len;
        cur->next = right->next;
        right->len = 0;
        if (cur->next >= 0)
            w->v[cur->next].prev = (int32_t)top.pos;
        bool ok = true;
        if (cur->prev >= 0 && merge_find(mm, w->v[cur->prev].id, cur->id, &rank, &nid))
            ok = heap_push(&h, (merge_item){rank, (uint32_t)cur->prev, nid});
        if (ok && cur->next >= 0 && merge_find(mm, cur->id, w->v[cur->next].id, &rank, &nid))
            ok = heap_push(&h, (merge_item){rank, top.pos, nid});
        if (!ok) {
            if (!h.borrowed)
                free(h.v);
            return oom(err);
        }
    }
    if (!h.borrowed)
        free(h.v);
    return CF_OK;
}

/* The initial symbols of a word: one per char (with prefix/suffix), else its bytes
 * (byte_fallback), else the unknown token (fused when fuse_unk). */
static cf_status build_word(const cf_model *m, const char *s, size_t len, word *w, cf_error *err)
{
    size_t plen = m->continuing_subword_prefix ? strlen(m->continuing_subword_prefix) : 0;
    size_t slen = m->end_of_word_suffix ? strlen(m->end_of_word_suffix) : 0;
    char buf[4 + 256 + 256];
    bool decorate = plen + slen > 0 && plen <= 256 && slen <= 256;
    int64_t unk_id = -1;
    size_t unk_len = 0;
    bool have_unk = false;
    for (size_t i = 0; i < len;) {
        size_t n;
        cf_utf8_decode(s + i, &n);
        if (i + n > len)
            n = len - i;
        const char *key = s + i;
        size_t klen = n;
        if (decorate) {
            klen = 0;
            if (i > 0 && plen) {
                memcpy(buf, m->continuing_subword_prefix, plen);
                klen = plen;
            }
            memcpy(buf + klen, s + i, n);
            klen += n;
            if (i + n == len && slen) {
                memcpy(buf + klen, m->end_of_word_suffix, slen);
                klen += slen;
            }
            key = buf;
        }
        int64_t id = cf_vocab_find(&m->vocab, key, klen);
        if (id >= 0) {
            if (have_unk && !word_add(w, (uint32_t)unk_id, unk_len))
                return oom(err);
            have_unk = false;
            if (!word_add(w, (uint32_t)id, n))
                return oom(err);
            i += n;
            continue;
        }
        if (m->byte_fallback) {
            bool all = true;
            for (size_t b = 0; b < klen; b++)
                all = all && m->byte_ids[(unsigned char)key[b]] >= 0;
            if (all) {
                for (size_t b = 0; b < klen; b++)
                    if (!word_add(w, (uint32_t)m->byte_ids[(unsigned char)key[b]], 1))
                        return oom(err);
                i += n;
                continue;
            }
        }
        if (m->unk_token) {
            if (m->unk_id < 0)
                return cf_fail(err, CF_ERR_FORMAT, "BPE: the unknown token \"%s\" is not in the vocabulary",
                               m->unk_token);
            if (have_unk && m->fuse_unk) {
                unk_len += n;
            } else {
                if (have_unk && !word_add(w, (uint32_t)unk_id, unk_len))
                    return oom(err);
                unk_id = m->unk_id;
                unk_len = n;
                have_unk = true;
            }
        }
        i += n;
    }
    if (have_unk && !word_add(w, (uint32_t)unk_id, unk_len))
        return oom(err);
    return CF_OK;
}

cf_status cf_bpe_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
    if (len == 0)
        return CF_OK;
    if (m->ignore_merges) {
        int64_t id = cf_vocab_find(&m->vocab, s, len);
        if (id >= 0)
            return cf_toks_push(out, id, 0, len) ? CF_OK : oom(err);
    }
    uint64_t h = 0;
    bool cacheable = m->cache && len < CACHE_MAX_WORD;
    if (cacheable) {
        bool failed = false;
        h = cf_hash_bytes(s, len);
        if (cache_get(m->cache, s, len, h, out, &failed))
            return failed ? oom(err) : CF_OK;
    }
    symbol stack_symbols[64];
    word w = {stack_symbols, 0, 64, true};
    cf_status st = build_word(m, s, len, &w, err);
    if (st == CF_OK)
        st = merge_all(&m->merges, &w, err);
    size_t first = out->n, at = 0;
    for (size_t i = 0; i < w.n && st == CF_OK; i++) {
        if (w.v[i].len == 0)
            continue;
        if (!cf_toks_push(out, w.v[i].id, at, at + w.v[i].len))
            st = oom(err);
        at += w.v[i].len;
    }
    if (st == CF_OK && cacheable)
        cache_put(m->cache, s, len, h, out->v + first, out->n - first);
    if (!w.borrowed)
        free(w.v);
    return st;
}
