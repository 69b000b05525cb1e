#include "tokenizers/vocab.h"

#include <stdlib.h>
#include <string.h>

uint64_t cf_hash_bytes(const void *data, size_t len)
{
    /* FNV-1a with a final avalanche: short keys dominate, so this beats fancier hashes. */
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static cf_status grow_slots(cf_vocab *v, cf_error *err)
{
    size_t n = v->n_slots ? v->n_slots * 2 : 64;
    int64_t *slots = malloc(n * sizeof *slots);
    if (!slots)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory building a vocabulary of %zu tokens", v->count);
    for (size_t i = 0; i < n; i++)
        slots[i] = -1;
    for (size_t i = 0; i < v->n_slots; i++) {
        int64_t id = v->slots[i];
        if (id < 0)
            continue;
        const char *t = v->by_id[id];
        size_t h = cf_hash_bytes(t, strlen(t)) & (n - 1);
        while (slots[h] >= 0)
            h = (h + 1) & (n - 1);
        slots[h] = id;
    }
    free(v->slots);
    v->slots = slots;
    v->n_slots = n;
    return CF_OK;
}

int64_t cf_vocab_find(const cf_vocab *v, const char *token, size_t len)
{
    if (!v->n_slots)
        return -1;
    size_t h = cf_hash_bytes(token, len) & (v->n_slots - 1);
    for (;;) {
        int64_t id = v->slots[h];
        if (id < 0)
            return -1;
        const char *t = v->by_id[id];
        if (strncmp(t, token, len) == 0 && t[len] == '\0')
            return id;
        h = (h + 1) & (v->n_slots - 1);
    }
}

cf_status cf_vocab_add(cf_vocab *v, const char *token, size_t len, int64_t id, bool *added, cf_error *err)
{
    if (added)
        *added = false;
    /* ids index a table: real vocabularies stay far below this (the largest are ~1M) */
    if (id < 0 || id >= CF_VOCAB_MAX_ID)
        return cf_fail(err, CF_ERR_FORMAT, "token id %lld is out of range (ids must be 0..%d)", (long long)id,
                       CF_VOCAB_MAX_ID - 1);
    if (memchr(token, '\0', len))
        return cf_fail(err, CF_ERR_FORMAT, "token with id %lld contains a NUL byte", (long long)id);
    if (cf_vocab_find(v, token, len) >= 0)
        return CF_OK;
    if ((size_t)id < v->n_ids && v->by_id[id])
        return CF_OK; /* id taken by another string: first one wins, as a map keyed by id would */
    if ((v->count + 1) * 2 > v->n_slots)
        CF_TRY(grow_slots(v, err));
    if ((size_t)id >= v->n_ids) {
        size_t n = v->n_ids ? v->n_ids : 64;
        while (n <= (size_t)id)
            n *= 2;
        char **by_id = realloc(v->by_id, n * sizeof *by_id);
        if (!by_id)
            return cf_fail(err, CF_ERR_NOMEM, "out of memory building a vocabulary");
        memset(by_id + v->n_ids, 0, (n - v->n_ids) * sizeof *by_id);
        v->by_id = by_id;
        v->n_ids = n;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory building a vocabulary");
    memcpy(copy, token, len);
    copy[len] = '\0';
    v->by_id[id] = copy;
    size_t h = cf_hash_bytes(token, len) & (v->n_slots - 1);
    while (v->slots[h] >= 0)
        h = (h + 1) & (v->n_slots - 1);
    v->slots[h] = id;
    v->count++;
    if (added)
        *added = true;
    return CF_OK;
}

const char *cf_vocab_token(const cf_vocab *v, int64_t id)
{
    if (id < 0 || (size_t)id >= v->n_ids)
        return NULL;
    return v->by_id[id];
}

void cf_vocab_free(cf_vocab *v)
{
    for (size_t i = 0; i < v->n_ids; i++)
        free(v->by_id[i]);
    free(v->by_id);
    free(v->slots);
    memset(v, 0, sizeof *v);
}
