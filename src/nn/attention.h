/* Bidirectional multi-head self-attention (the encoder kind): one fused QKV projection,
 * scaled dot-product attention per sequence with a key padding mask, output projection. */
#ifndef CF_NN_ATTENTION_H
#define CF_NN_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "nn/linear.h"

typedef struct cf_self_attention {
    int64_t hidden;
    int n_heads, head_dim;
    cf_linear qkv; /* [3*hidden, hidden]: rows of Q, then K, then V */
    cf_linear out; /* [hidden, hidden] */
} cf_self_attention;

/* Load from the four nn.Linear prefixes (each with ".weight" and ".bias"). */
cf_status cf_self_attention_load(cf_self_attention *a, const cf_safetensors *st, const char *q, const char *k,
                                 const char *v, const char *o, int64_t hidden, int n_heads, cf_error *err);
void cf_self_attention_free(cf_self_attention *a);

/* Arena bytes cf_self_attention_forward takes for `tokens` rows (released before it returns). */
size_t cf_self_attention_scratch_bytes(const cf_self_attention *a, int64_t tokens);

/* y[batch*seq, hidden] = attention(x); key_mask[batch*seq] is additive (0 keep, very negative
 * drop) or NULL. y must not overlap x. */
void cf_self_attention_forward(const cf_self_attention *a, const float *x, int64_t batch, int64_t seq,
                               const float *key_mask, float *y, cf_arena *scratch);

#endif
