/* The interface the generation engine drives: any model that turns token histories into
 * next-token logits. Decoder-only models (GPT-2, Llama) and encoder-decoders (BART, T5,
 * Marian, Whisper) implement the same three calls:
 *
 *   session = open(model, limits)                 per-run state: KV caches, scratch
 *   start(session, inputs)  -> logits [n_seqs, V] prompts in (decoder prompt + encoder input),
 *                                                 each input expanded to `copies` sequences
 *   step(session, tokens, src) -> logits [n_seqs, V]
 *                                                 sequence i continues the history of sequence
 *                                                 src[i] (beam reorder; NULL = itself) with tokens[i]
 *
 * The model's weights are read-only and shared: several sessions may run at once. All memory a
 * session needs is allocated by open() and start(); step() allocates nothing. */
#ifndef CF_MODELS_LM_H
#define CF_MODELS_LM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cf_lm_limits {
    int64_t n_inputs;  /* prompts per start() */
    int64_t copies;    /* sequences per prompt (beams, sampled return sequences) */
    int64_t max_len;   /* longest decoder history: padded prompt + new tokens */
    int64_t enc_len;   /* longest encoder input (encoder-decoders), else 0 */
} cf_lm_limits;

typedef struct cf_lm_inputs {
    int64_t n_inputs, copies;
    /* decoder prompt, left-padded: [n_inputs, len]; mask 1 = token, 0 = padding (NULL: no padding) */
    int64_t len;
    const int64_t *ids;
    const int64_t *mask;
    /* encoder input (encoder-decoders only): token ids + mask [n_inputs, enc_len] or features
     * [n_inputs, enc_features_shape[0], enc_features_shape[1]] (audio) */
    int64_t enc_len;
    const int64_t *enc_ids;
    const int64_t *enc_mask;
    const float *enc_features;
    int64_t enc_features_shape[2];
} cf_lm_inputs;

typedef struct cf_lm_ops {
    const char *name;
    cf_status (*open)(const void *model, const cf_lm_limits *limits, void **session, cf_error *err);
    void (*close)(void *session);
    cf_status (*start)(void *session, const cf_lm_inputs *in, float *logits, cf_error *err);
    cf_status (*step)(void *session, const int64_t *tokens, const int32_t *src, float *logits, cf_error *err);
} cf_lm_ops;

typedef struct cf_lm {
    const cf_lm_ops *ops;
    const void *model;
    int64_t vocab_size;     /* logits row length */
    int64_t max_positions;  /* longest decoder history the model can attend to (0 = no limit) */
    bool encoder_decoder;
    /* Beam search sets this token's logit to -inf before log_softmax when has_beam_masked_token
     * (transformers' adjust_logits_during_generation: Marian never scores its pad token). */
    bool has_beam_masked_token;
    int64_t beam_masked_token;
} cf_lm;

#endif
