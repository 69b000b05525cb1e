/* Multi-head attention with separate Q/K/V/output projections (the BART/Whisper layout, where
 * a projection may lack its bias: Whisper's k_proj has none). Three uses:
 *   self-attention over one whole sequence (encoders),
 *   cross-attention of decoder queries against keys/values projected once from a memory,
 *   causal self-attention against a KV cache (nn/kv_cache.h) for decoding. */
#ifndef CF_NN_MHA_H
#define CF_NN_MHA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "nn/kv_cache.h"
#include "nn/linear.h"

typedef struct cf_mha {
    int64_t hidden;
    int n_heads, head_dim;
    cf_linear q, k, v, o;
} cf_mha;

/* "<prefix>.q_proj", ".k_proj", ".v_proj", ".out_proj"; k_bias false: k_proj has no bias. */
cf_status cf_mha_load(cf_mha *a, const cf_safetensors *st, const char *prefix, int64_t hidden, int n_heads,
                      bool k_bias, cf_error *err);
void cf_mha_free(cf_mha *a);

/* Arena bytes the forwards below take for `rows` query rows (released before they return). */
size_t cf_mha_scratch_bytes(const cf_mha *a, int64_t rows);

/* y[seq, hidden] = attention of x over itself (no mask); y must not overlap x. */
void cf_mha_self_forward(const cf_mha *a, const float *x, int64_t seq, float *y, cf_arena *scratch);

/* Keys and values of a memory of n rows (cross-attention), each [n, hidden]. */
void cf_mha_project_kv(const cf_mha *a, const float *memory, int64_t n, float *k, float *v);

/* y[n_q, hidden] = attention of queries from x against precomputed k/v [n_kv, hidden]. */
void cf_mha_cross_forward(const cf_mha *a, const float *x, int64_t n_q, const float *k, const float *v,
                          int64_t n_kv, float *y, cf_arena *scratch);

/* Causal self-attention of n_seqs x T new rows against the cache (layer `layer`): row block b is
 * cache sequence seqs[b]; its keys/values are stored at c->len.. before attending. */
void cf_mha_cached_forward(const cf_mha *a, cf_kv_cache *c, int layer, const int64_t *seqs, int64_t n_seqs,
                           int64_t T, const float *x, float *y, cf_arena *scratch);

#endif
