/* Wav2Vec2 (Baevski et al. 2020): a convolutional feature encoder over the raw waveform
 * (GroupNorm after the first layer, "group", or LayerNorm after every layer, "layer"), a feature
 * projection, a grouped positional convolution with weight norm, and a transformer encoder that is
 * post-LN (base) or pre-LN with a final norm (do_stable_layer_norm, large-lv60). Heads:
 * Wav2Vec2ForCTC (per-frame logits over the character vocabulary) and
 * Wav2Vec2ForSequenceClassification (projector, mean over frames, classifier).
 * Clips run one at a time or as a padded batch (with or without the attention mask, as the
 * feature extractor's return_attention_mask says); activations live in an arena grown to the
 * largest batch seen. */
#ifndef CF_MODELS_WAV2VEC2_H
#define CF_MODELS_WAV2VEC2_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"

typedef enum cf_wav2vec2_head {
    CF_WAV2VEC2_BASE = 0,      /* last_hidden_state [frames, hidden] */
    CF_WAV2VEC2_CTC,           /* logits [frames, vocab_size] */
    CF_WAV2VEC2_CLASSIFICATION /* logits [1, num_labels] */
} cf_wav2vec2_head;

typedef struct cf_wav2vec2 cf_wav2vec2;

/* Sees named intermediate tensors: "extract_features" (the conv feature encoder's output
 * [frames, conv_dim[-1]], before the projection's LayerNorm), "hidden_states.<i>" (as
 * output_hidden_states gives them) and "logits". */
typedef void (*cf_wav2vec2_tensor_fn)(void *ctx, const char *name, const float *data, int64_t rows, int64_t cols);

/* Is config.json a wav2vec2 model? */
bool cf_wav2vec2_supports(const cf_config *config);
/* The head named by config.json "architectures" (ForCTC, ForSequenceClassification, else base). */
cf_wav2vec2_head cf_wav2vec2_head_from_config(const cf_config *config);

cf_status cf_wav2vec2_load(const char *dir, const cf_config *config, cf_wav2vec2_head head, cf_wav2vec2 **out,
                           cf_error *err);
void cf_wav2vec2_free(cf_wav2vec2 *m);

/* Frames the feature encoder makes of n samples (0 when the clip is shorter than its receptive field). */
int64_t cf_wav2vec2_frames(const cf_wav2vec2 *m, int64_t n_samples);
/* Samples per output frame: the product of the conv strides (inputs_to_logits_ratio). */
int64_t cf_wav2vec2_inputs_to_logits_ratio(const cf_wav2vec2 *m);
int64_t cf_wav2vec2_logits_cols(const cf_wav2vec2 *m); /* vocab, num_labels or hidden size */

typedef struct cf_wav2vec2_output {
    const float *logits; /* into the model's arena, valid until the next forward */
    int64_t rows, cols;  /* rows: batch * frames (CTC, base) or batch (classification) */
    int64_t frames;      /* frames per clip of the (padded) batch */
} cf_wav2vec2_output;

/* Run one clip of input_values (already normalised as the feature extractor does). Not
 * thread-safe on one model. */
cf_status cf_wav2vec2_forward(cf_wav2vec2 *m, const float *input_values, int64_t n_samples,
                              cf_wav2vec2_tensor_fn on_tensor, void *ctx, cf_wav2vec2_output *out, cf_error *err);

/* A padded batch, as Wav2Vec2Model.forward(input_values, attention_mask) runs it: input_values
 * [batch, n_samples]; valid[b] = the real samples of clip b (the attention mask, 1s then 0s) or
 * NULL for no mask. With a mask the frames past each clip's own length are zeroed before the
 * positional convolution and hidden from attention (their rows are still computed), and the
 * classification head pools over the real frames only. Without one, the padding is audio. */
cf_status cf_wav2vec2_forward_batch(cf_wav2vec2 *m, const float *input_values, int64_t batch, int64_t n_samples,
                                    const int64_t *valid, cf_wav2vec2_tensor_fn on_tensor, void *ctx,
                                    cf_wav2vec2_output *out, cf_error *err);

#endif
