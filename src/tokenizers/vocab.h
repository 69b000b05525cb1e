/* A token vocabulary: string -> id through an open-addressing hash map, id -> string by index. */
#ifndef CF_TOKENIZERS_VOCAB_H
#define CF_TOKENIZERS_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CF_VOCAB_MAX_ID (1 << 24)

typedef struct cf_vocab {
    char **by_id;      /* by_id[id] or NULL where the id is unused */
    size_t n_ids;      /* 1 + largest id */
    size_t count;      /* number of entries */
    int64_t *slots;    /* hash slots holding ids, -1 empty */
    size_t n_slots;    /* power of two */
} cf_vocab;

/* Adds token -> id; a token already present keeps its first id (returns false then). */
cf_status cf_vocab_add(cf_vocab *v, const char *token, size_t len, int64_t id, bool *added, cf_error *err);
int64_t cf_vocab_find(const cf_vocab *v, const char *token, size_t len); /* -1 if absent */
const char *cf_vocab_token(const cf_vocab *v, int64_t id);                 /* NULL if absent */
void cf_vocab_free(cf_vocab *v);

uint64_t cf_hash_bytes(const void *data, size_t len);

#endif
