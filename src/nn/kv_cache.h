/* Self-attention key/value cache for a batch of sequences, allocated once per generation.
 *
 * Each sequence owns one block: for every layer K and V as [max_len, kv_dim] rows, plus an
 * additive key mask [max_len] (0 = attend, -inf = padding). Sequences refer to blocks through
 * a slot table, so a beam reorder that is a permutation only swaps slot numbers; a block is
 * copied (just its first `len` rows) only when two beams continue the same parent. */
#ifndef CF_NN_KV_CACHE_H
#define CF_NN_KV_CACHE_H

#include <stdint.h>

#include "core/error.h"

typedef struct cf_kv_cache {
    int n_layers;
    int64_t n_seqs, max_len, kv_dim;
    int64_t len;       /* positions stored, the same for every sequence (left padding) */
    float *data;       /* n_seqs blocks */
    size_t block_floats;
    int32_t *slot;     /* sequence -> block */
    int32_t *scratch;  /* [2 * n_seqs] for reorder */
    int64_t *n_tokens; /* per block: real (unmasked) tokens stored, i.e. the next position id */
} cf_kv_cache;

cf_status cf_kv_cache_init(cf_kv_cache *c, int n_layers, int64_t n_seqs, int64_t max_len, int64_t kv_dim,
                           cf_error *err);
void cf_kv_cache_free(cf_kv_cache *c);

/* Row `pos` of layer `layer`'s keys (or values) for sequence `seq`; rows are kv_dim apart. */
float *cf_kv_keys(const cf_kv_cache *c, int64_t seq, int layer);
float *cf_kv_values(const cf_kv_cache *c, int64_t seq, int layer);
float *cf_kv_mask(const cf_kv_cache *c, int64_t seq);
int64_t *cf_kv_n_tokens(const cf_kv_cache *c, int64_t seq);

/* Sequence i takes the history of sequence src[i] (src NULL: nothing to do). */
void cf_kv_cache_reorder(cf_kv_cache *c, const int32_t *src);

/* Sequences [first + 1, first + n) become copies of sequence `first` (prompt expansion). */
void cf_kv_cache_replicate(cf_kv_cache *c, int64_t first, int64_t n);


/* Causal self-attention against the cache for one layer. Batch row b is cache sequence
 * seqs[b] with T new positions: its keys/values (rows b*T.. of k and v, kv_stride apart) are
 * stored at c->len .., then its queries attend to positions [0, c->len + T) under the
 * sequence's key mask. out rows follow q rows. */
typedef struct cf_kv_attend_args {
    int layer;
    int64_t n_seqs, T;
    const int64_t *seqs;
    const float *q, *k, *v;
    int64_t q_stride, kv_stride;
    int n_heads, n_kv_heads, head_dim;
    float scale;
    float *out;
    int64_t out_stride;
    const float *bias; /* [n_heads, T, c->len + T] added to every sequence's scores (relative
                          positions), or NULL */
} cf_kv_attend_args;

void cf_kv_attend(cf_kv_cache *c, const cf_kv_attend_args *a);

#endif
