/* Decoder-only language models (GPT-2, Llama) behind the cf_lm interface of models/lm.h.
 *
 * An architecture supplies one function: run T new tokens for each sequence of a batch
 * against the KV cache. This file does the rest the way generate() does it: left-padded
 * prompts with attention masks, position ids = cumsum(mask) - 1 (padding at 1), one prefill
 * per prompt copied to its beams, and cache reordering between steps. */
#ifndef CF_MODELS_CAUSAL_LM_H
#define CF_MODELS_CAUSAL_LM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"
#include "models/lm.h"
#include "nn/kv_cache.h"

/* Called with hidden_states[index] (0 = embeddings, n_layers = after the final norm), rows =
 * n_seqs * T, as transformers' output_hidden_states gives them. */
typedef void (*cf_causal_hidden_fn)(void *ctx, int index, const float *hidden, int64_t rows, int64_t dim);

typedef struct cf_causal_batch {
    int64_t n_seqs, T;       /* sequences in this forward, new tokens per sequence */
    const int64_t *seqs;     /* [n_seqs] cache sequence of each batch row */
    const int64_t *ids;      /* [n_seqs * T] */
    const int64_t *pos;      /* [n_seqs * T] position ids */
    cf_kv_cache *kv;         /* new keys/values go to rows kv->len .. kv->len + T */
    float *logits;           /* [n_seqs, V] at each sequence's last token, or [n_seqs*T, V] */
    bool all_positions;
    cf_causal_hidden_fn on_hidden;
    void *on_hidden_ctx;
    float *scratch;          /* arch->scratch_floats(rows) floats */
} cf_causal_batch;

typedef struct cf_causal_arch {
    const char *name;
    int n_layers;
    int64_t hidden, kv_dim, vocab, max_positions;
    size_t (*scratch_floats)(const void *model, int64_t rows);
    void (*forward)(const void *model, const cf_causal_batch *b);
} cf_causal_arch;

/* A loaded decoder-only model: its architecture and weights. */
typedef struct cf_causal_lm {
    cf_causal_arch arch;
    void *weights;
    void (*free_weights)(void *weights);
} cf_causal_lm;

/* Is config.json a decoder-only model this layer runs (model_type gpt2, llama)? */
bool cf_causal_lm_supports(const cf_config *config);
/* Load from a model folder (config.json + safetensors). */
cf_status cf_causal_lm_load(const char *dir, const cf_config *config, cf_causal_lm **out, cf_error *err);
void cf_causal_lm_free(cf_causal_lm *m);

/* The generation interface over this model. */
cf_lm cf_causal_lm_as_lm(const cf_causal_lm *m);

/* Full forward of one unpadded sequence (positions 0..n-1) with every position's logits
 * [n, V] and optional hidden states; for tests and tools. */
cf_status cf_causal_lm_forward(const cf_causal_lm *m, const int64_t *ids, int64_t n, float *logits,
                               cf_causal_hidden_fn on_hidden, void *ctx, cf_error *err);

/* Checks ids are inside the vocabulary (the forward functions assume it). */
cf_status cf_causal_lm_check_ids(const cf_causal_lm *m, const int64_t *ids, int64_t n, cf_error *err);

/* Architectures (models/gpt2.c, models/llama.c). */
cf_status cf_gpt2_load(const cf_config *config, const char *dir, cf_causal_lm *m, cf_error *err);
cf_status cf_llama_load(const cf_config *config, const char *dir, cf_causal_lm *m, cf_error *err);

#endif
