/* A transformer decoder layer (Vaswani et al. 2017): causal self-attention against the KV
 * cache, cross-attention to keys/values projected once from the encoder output, and a
 * feed-forward block. Each sub-block has a residual connection and a norm, either after the
 * residual (post-LN: BART, Marian) or before the sub-block (pre-LN: mBART, Whisper).
 *
 * Weights carry the BART names under a layer prefix: self_attn, self_attn_layer_norm,
 * encoder_attn, encoder_attn_layer_norm, fc1, fc2, final_layer_norm. */
#ifndef CF_NN_DECODER_LAYER_H
#define CF_NN_DECODER_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "nn/ffn.h"
#include "nn/kv_cache.h"
#include "nn/mha.h"
#include "nn/norm.h"

typedef struct cf_decoder_layer {
    cf_mha self_attn, cross_attn;
    cf_norm self_norm, cross_norm, ffn_norm;
    cf_ffn ffn;
    bool pre_norm;
} cf_decoder_layer;

typedef struct cf_decoder_layer_spec {
    int64_t hidden, ffn_dim;
    int n_heads;
    cf_activation act;
    float eps;
    bool pre_norm;
    bool k_bias; /* k_proj has a bias (false for Whisper) */
} cf_decoder_layer_spec;

/* What one row block's queries attend to in cross-attention: keys and values [n, hidden]. */
typedef struct cf_cross_memory {
    const float *k, *v;
    int64_t n;
} cf_cross_memory;

cf_status cf_decoder_layer_load(cf_decoder_layer *l, const cf_safetensors *st, const char *prefix,
                                const cf_decoder_layer_spec *spec, cf_error *err);
void cf_decoder_layer_free(cf_decoder_layer *l);

/* Cross-attention keys and values of an encoder output of n rows, each [n, hidden]. */
void cf_decoder_layer_project_memory(const cf_decoder_layer *l, const float *memory, int64_t n, float *k, float *v);

/* Arena bytes one forward takes for `rows` rows (all released before it returns). */
size_t cf_decoder_layer_scratch_bytes(const cf_decoder_layer *l, int64_t rows);

/* x[n_seqs*T, hidden] <- layer(x), in place. Row block b is cache sequence seqs[b] (layer
 * `layer` of kv; its new keys/values go to positions kv->len..) and attends to memory[b].
 * Projections run once over all rows, so beams share one read of the weights. */
void cf_decoder_layer_forward(const cf_decoder_layer *l, int layer, cf_kv_cache *kv, const int64_t *seqs,
                              int64_t n_seqs, int64_t T, const cf_cross_memory *memory, float *x, cf_arena *scratch);

#endif
