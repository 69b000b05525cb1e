/* The encoder's insides, shared by the family files (bert.c, distilbert.c, roberta.c) that
 * read config.json and map weight names, and encoder.c that runs it. */
#ifndef CF_MODELS_ENCODER_IMPL_H
#define CF_MODELS_ENCODER_IMPL_H

#include "core/arena.h"
#include "models/encoder.h"
#include "nn/activation.h"
#include "nn/embeddings.h"
#include "nn/encoder_layer.h"
#include "nn/linear.h"

/* dense + activation on the first token ("pooler", "pre_classifier", RoBERTa's classifier.dense). */
typedef struct cf_first_token_pooler {
    bool present;
    cf_linear dense;
    cf_activation act;
} cf_first_token_pooler;

/* Masked-LM head: dense + activation + LayerNorm, then the (usually tied) decoder + bias. */
typedef struct cf_mlm_head {
    cf_linear transform;
    cf_activation act;
    cf_norm norm;
    cf_weight decoder; /* [vocab, hidden]: the word embeddings when tied */
    cf_weight bias;    /* [vocab] */
} cf_mlm_head;

/* A family that runs its own forward (BART's sequence classifier is an encoder-decoder): its
 * loader fills this and encoder.c hands forward, free and the length limit to it. */
typedef struct cf_encoder_delegate {
    void *model;
    cf_status (*forward)(void *model, const cf_encoder_input *in, cf_encoder_output *out, cf_error *err);
    void (*free)(void *model);
    int64_t max_tokens;
} cf_encoder_delegate;

struct cf_encoder {
    char family[16];
    cf_encoder_head head;
    int64_t hidden, inner, vocab, n_labels;
    int n_layers, n_heads;
    cf_safetensors *st;
    cf_text_embeddings emb;
    cf_encoder_layer *layers;
    cf_first_token_pooler pooler;
    cf_linear classifier; /* sequence/token classification, QA outputs */
    cf_mlm_head mlm;
    cf_arena arena;
    cf_encoder_delegate delegate; /* set by delegating families only */
};

/* Family loaders: fill m (m->st open, m->head set) from config.json. */
cf_status cf_bert_load(cf_encoder *m, const cf_config *cfg, cf_error *err);
cf_status cf_distilbert_load(cf_encoder *m, const cf_config *cfg, cf_error *err);
cf_status cf_roberta_load(cf_encoder *m, const cf_config *cfg, cf_error *err);
cf_status cf_bart_encoder_load(cf_encoder *m, const cf_config *cfg, cf_error *err); /* models/bart.c */

/* Bounds on config sizes: far above any released checkpoint, low enough that sizes computed
 * from them (width * positions * batch) cannot overflow. */
#define CF_ENCODER_MAX_WIDTH ((int64_t)1 << 16)
#define CF_ENCODER_MAX_LAYERS 1000
#define CF_ENCODER_MAX_VOCAB ((int64_t)1 << 24)
#define CF_ENCODER_MAX_POSITIONS ((int64_t)1 << 20)

/* Shared pieces the family loaders use. "%s" in formats is the base prefix ("bert." or ""). */
const char *cf_encoder_base_prefix(const cf_safetensors *st, const char *family_prefix, const char *probe);
cf_status cf_encoder_load_word_tables(cf_encoder *m, const char *prefix, bool with_types, int64_t n_positions,
                                      int64_t n_types, float eps, cf_error *err);
/* Config sizes under a family's keys (hidden, layers, heads, inner) plus vocab_size; hidden
 * must be a multiple of heads. */
typedef struct cf_encoder_size_keys {
    const char *hidden, *layers, *heads, *inner;
} cf_encoder_size_keys;
cf_status cf_encoder_read_sizes(cf_encoder *m, const cf_config *cfg, const cf_encoder_size_keys *keys, cf_error *err);
/* The per-token heads every family names alike: "classifier" (token classification, num_labels
 * outputs) and "qa_outputs" (question answering, 2). */
cf_status cf_encoder_load_token_head(cf_encoder *m, const cf_config *cfg, cf_error *err);
cf_status cf_encoder_load_pooler(cf_encoder *m, const char *name, cf_activation act, bool required, cf_error *err);
cf_status cf_encoder_load_classifier(cf_encoder *m, const char *name, int64_t n_out, cf_error *err);
/* mlm head: transform dense, its norm, the optional untied decoder weight, and the bias (tried in order). */
cf_status cf_encoder_load_mlm(cf_encoder *m, const char *dense, const char *norm, float eps, cf_activation act,
                              const char *decoder_weight, const char *const *bias_names, cf_error *err);
/* Per-layer weight names: layer is a printf format taking (base prefix, layer index), the
 * others are appended to it. */
typedef struct cf_encoder_layer_names {
    const char *layer;
    const char *q, *k, *v, *o, *attn_norm, *up, *down, *ffn_norm;
} cf_encoder_layer_names;
cf_status cf_encoder_load_layers(cf_encoder *m, const char *prefix, const cf_encoder_layer_names *names,
                                 cf_activation act, float eps, cf_error *err);

#endif
