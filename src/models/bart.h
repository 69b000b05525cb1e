/* The BART layout of encoder-decoder transformer (Lewis et al. 2019), which Marian shares:
 * token embeddings x embed_scale plus positions (learned with BART's offset of 2, or Marian's
 * computed sinusoids), an optional LayerNorm on the embeddings, post-LN encoder and decoder
 * layers, and an output projection tied to the decoder embeddings plus final_logits_bias.
 * Weights under the Hub names, with or without the "model." prefix. */
#ifndef CF_MODELS_BART_H
#define CF_MODELS_BART_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/seq2seq.h"
#include "nn/activation.h"

typedef enum cf_bart_positions {
    CF_BART_POS_LEARNED = 0, /* embed_positions.weight [max_positions + 2, d], row = position + 2 */
    CF_BART_POS_SINUSOIDAL   /* MarianSinusoidalPositionalEmbedding, computed */
} cf_bart_positions;

typedef struct cf_bart_spec {
    const char *name;
    int64_t d, enc_vocab, dec_vocab, max_positions;
    cf_seq2seq_stacks stacks;
    cf_activation act;
    float embed_scale;
    cf_bart_positions positions;
    bool layernorm_embedding;
    bool shared_embeddings; /* one token table for encoder, decoder and output */
    bool tied_output;       /* output projection = decoder token table (tie_word_embeddings) */
} cf_bart_spec;

/* The config.json keys BART and Marian share: d_model, *_layers, *_attention_heads, *_ffn_dim,
 * vocab_size, max_position_embeddings, activation_function, scale_embedding,
 * tie_word_embeddings, and the special token ids. */
cf_status cf_bart_read_config(const cf_config *config, cf_bart_spec *spec, cf_seq2seq *m, cf_error *err);

/* Load the layout described by spec from the checkpoint st into m; m owns st when owns_st
 * (even on failure), else st must outlive m. */
cf_status cf_bart_layout_load(cf_safetensors *st, bool owns_st, const cf_bart_spec *spec, cf_seq2seq *m,
                              cf_error *err);

/* BartForSequenceClassification: the decoder's hidden state at the input's last eos token,
 * then dense -> tanh -> out_proj. */
typedef struct cf_bart_classifier cf_bart_classifier;

cf_status cf_bart_classifier_load(const char *dir, const cf_config *config, cf_bart_classifier **out, cf_error *err);
/* Same over an open checkpoint that outlives the classifier. */
cf_status cf_bart_classifier_load_st(cf_safetensors *st, const cf_config *config, cf_bart_classifier **out,
                                     cf_error *err);
void cf_bart_classifier_free(cf_bart_classifier *c);
int64_t cf_bart_classifier_num_labels(const cf_bart_classifier *c);
/* logits [num_labels] of one unpadded input; fn sees the hidden states and
 * "encoder_last_hidden_state". last_hidden (optional) gets the decoder output [n, d]. */
cf_status cf_bart_classify(const cf_bart_classifier *c, const int64_t *ids, int64_t n, float *logits,
                           float *last_hidden, cf_seq2seq_tensor_fn fn, void *ctx, cf_error *err);
const cf_seq2seq *cf_bart_classifier_model(const cf_bart_classifier *c);

#endif
