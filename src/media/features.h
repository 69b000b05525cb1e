/* Feature extractors driven by a model's preprocessor_config.json, equal to transformers'
 * WhisperFeatureExtractor (log-mel input_features) and Wav2Vec2FeatureExtractor (input_values). */
#ifndef CF_MEDIA_FEATURES_H
#define CF_MEDIA_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"
#include "media/mel.h"

/* ---------------------------------------------------------------- Whisper ---- */

typedef struct cf_whisper_features {
    int feature_size;      /* mel bins: 80 or 128 */
    int sampling_rate;     /* 16000 */
    int n_fft, hop_length; /* 400, 160 */
    int chunk_length;      /* seconds per window: 30 */
    int64_t n_samples;     /* chunk_length * sampling_rate: audio is padded or trimmed to this */
    int64_t n_frames;      /* n_samples / hop_length: 3000 columns of output */
    float padding_value;
    cf_mel_plan plan;
} cf_whisper_features;

/* Read feature_size, sampling_rate, n_fft, hop_length, chunk_length, padding_value (transformers'
 * defaults when absent) and build the slaney mel filter bank over 0..8000 Hz as transformers does. */
cf_status cf_whisper_features_init(cf_whisper_features *fe, const cf_config *preprocessor, cf_error *err);
void cf_whisper_features_free(cf_whisper_features *fe);

/* input_features for one clip of n samples at fe->sampling_rate: padded with padding_value or cut
 * to n_samples, log-mel, dynamic range clamped to 8 (log10 units) below the maximum, (x + 4) / 4.
 * out holds feature_size * n_frames floats, row-major [feature_size][n_frames]. */
cf_status cf_whisper_log_mel(const cf_whisper_features *fe, const float *pcm, size_t n, float *out, cf_error *err);

/* --------------------------------------------------------------- Wav2Vec2 ---- */

typedef struct cf_wav2vec2_features {
    int sampling_rate;
    bool do_normalize;          /* zero mean, unit variance per clip */
    bool return_attention_mask; /* models with feat_extract_norm "layer" take a mask */
    float padding_value;
} cf_wav2vec2_features;

cf_status cf_wav2vec2_features_init(cf_wav2vec2_features *fe, const cf_config *preprocessor, cf_error *err);

/* (x - mean) / sqrt(var + 1e-7) over x[0..n), written to out (may equal x). */
void cf_wav2vec2_normalize(const float *x, size_t n, float *out);

/* input_values for a batch: clips padded on the right with padding_value to the longest
 * (*len_out samples), normalized when do_normalize. *values is [batch][len] and, when
 * return_attention_mask, *mask is [batch][len] with 1 on real samples (else NULL). As transformers
 * does, the statistics cover the real samples when the mask is returned and the whole padded row
 * otherwise (the same thing for one clip). Both arrays are malloc'ed. */
cf_status cf_wav2vec2_batch(const cf_wav2vec2_features *fe, const float *const *clips, const size_t *lengths,
                            size_t batch, float **values, int32_t **mask, size_t *len_out, cf_error *err);

#endif
