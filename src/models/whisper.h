/* Whisper (Radford et al. 2022): an audio encoder (two 1-D convolutions with GELU, the second
 * of stride 2, sinusoidal positions, pre-LN transformer layers, final LayerNorm) over a 30 s
 * log-mel window, and a text decoder (learned positions, pre-LN layers with causal
 * self-attention and cross-attention, final LayerNorm, output tied to the token embeddings).
 *
 * Decoding goes through the cf_lm interface (models/lm.h): start() takes the log-mel features
 * as encoder input, encodes each window once and projects every layer's cross-attention keys
 * and values once; step() runs one token per sequence against the self-attention KV cache. */
#ifndef CF_MODELS_WHISPER_H
#define CF_MODELS_WHISPER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"
#include "models/lm.h"

typedef struct cf_whisper cf_whisper;

/* Sees named intermediate tensors as transformers names them: "encoder_hidden_states.<i>",
 * "decoder_hidden_states.<i>" and "logits". */
typedef void (*cf_whisper_tensor_fn)(void *ctx, const char *name, const float *data, int64_t rows, int64_t cols);

bool cf_whisper_supports(const cf_config *config);
cf_status cf_whisper_load(const char *dir, const cf_config *config, cf_whisper **out, cf_error *err);
void cf_whisper_free(cf_whisper *m);

int cf_whisper_n_mels(const cf_whisper *m);
int64_t cf_whisper_n_frames(const cf_whisper *m);    /* log-mel columns the encoder takes: 3000 */
int64_t cf_whisper_enc_len(const cf_whisper *m);     /* encoder output rows: max_source_positions */
int64_t cf_whisper_hidden(const cf_whisper *m);
int64_t cf_whisper_vocab(const cf_whisper *m);
int64_t cf_whisper_max_target(const cf_whisper *m);  /* max_target_positions */

/* Encoder: features [n_mels, n_frames] -> out [enc_len, hidden] (last_hidden_state). */
cf_status cf_whisper_encode(cf_whisper *m, const float *features, float *out, cf_whisper_tensor_fn fn, void *ctx,
                            cf_error *err);

/* Decoder over a whole token sequence (positions 0..n-1) against encoder output enc:
 * logits [n, vocab] for every position; for tests and tools. */
cf_status cf_whisper_decode_full(cf_whisper *m, const float *enc, const int64_t *ids, int64_t n, float *logits,
                                 cf_whisper_tensor_fn fn, void *ctx, cf_error *err);

/* The generation interface: encoder input = log-mel features [n_inputs, n_mels, n_frames]. */
cf_lm cf_whisper_as_lm(const cf_whisper *m);

#endif
