/* WhisperFeatureExtractor (transformers 4.35.2, numpy path): pad or trim to chunk_length seconds,
 * centred STFT with a periodic Hann window, power spectrum, slaney mel filter bank, log10, drop the
 * last frame, clamp to 8 below the maximum, (x + 4) / 4. */
#include "media/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WHISPER_FMIN 0.0
#define WHISPER_FMAX 8000.0 /* transformers builds Whisper's filter bank up to 8 kHz whatever the rate */
#define DYNAMIC_RANGE 8.0f  /* log10 units kept below the loudest bin */
#define MAX_SAMPLES ((int64_t)1 << 30)

static cf_status read_positive(const cf_config *cfg, const char *key, int64_t dflt, int64_t max, int *out,
                               cf_error *err)
{
    int64_t v = cf_config_int(cfg, key, dflt);
    if (v <= 0 || v > max)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" is %lld; expected 1..%lld", cfg->path, key, (long long)v,
                       (long long)max);
    *out = (int)v;
    return CF_OK;
}

cf_status cf_whisper_features_init(cf_whisper_features *fe, const cf_config *pre, cf_error *err)
{
    memset(fe, 0, sizeof *fe);
    CF_TRY(read_positive(pre, "feature_size", 80, 4096, &fe->feature_size, err));
    CF_TRY(read_positive(pre, "sampling_rate", 16000, 1000000, &fe->sampling_rate, err));
    CF_TRY(read_positive(pre, "n_fft", 400, 65536, &fe->n_fft, err));
    CF_TRY(read_positive(pre, "hop_length", 160, 65536, &fe->hop_length, err));
    CF_TRY(read_positive(pre, "chunk_length", 30, 3600, &fe->chunk_length, err));
    fe->padding_value = (float)cf_config_float(pre, "padding_value", 0.0);
    /* transformers derives these from chunk_length, overriding the stored n_samples / nb_max_frames. */
    fe->n_samples = (int64_t)fe->chunk_length * fe->sampling_rate;
    fe->n_frames = fe->n_samples / fe->hop_length;
    if (fe->n_samples > MAX_SAMPLES || fe->n_samples <= fe->n_fft / 2 || fe->n_frames < 1)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: chunk_length %d s at %d Hz gives %lld samples, not usable with n_fft %d / hop %d",
                       pre->path, fe->chunk_length, fe->sampling_rate, (long long)fe->n_samples, fe->n_fft,
                       fe->hop_length);

    int n_freq = fe->n_fft / 2 + 1;
    double *bank = malloc((size_t)n_freq * fe->feature_size * sizeof *bank);
    if (!bank)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for the mel filter bank", pre->path);
    cf_status st = cf_mel_filter_bank(n_freq, fe->feature_size, WHISPER_FMIN, WHISPER_FMAX, fe->sampling_rate, true,
                                      CF_MEL_SLANEY, bank, err);
    if (st == CF_OK)
        st = cf_mel_plan_init(&fe->plan, fe->n_fft, fe->hop_length, fe->feature_size, bank, err);
    free(bank);
    if (st != CF_OK)
        return cf_error_prefix(err, "%s: ", pre->path);
    return CF_OK;
}

void cf_whisper_features_free(cf_whisper_features *fe) { cf_mel_plan_free(&fe->plan); }

/* max(x, max(x) - 8), then (x + 4) / 4. */
static void compress_dynamic_range(float *x, size_t n)
{
    float top = -INFINITY;
    for (size_t i = 0; i < n; i++)
        top = x[i] > top ? x[i] : top;
    float floor_value = top - DYNAMIC_RANGE;
    for (size_t i = 0; i < n; i++)
        x[i] = ((x[i] > floor_value ? x[i] : floor_value) + 4.0f) / 4.0f;
}

cf_status cf_whisper_log_mel(const cf_whisper_features *fe, const float *pcm, size_t n, float *out, cf_error *err)
{
    size_t window = (size_t)fe->n_samples;
    size_t keep = n < window ? n : window; /* padded with padding_value or cut to n_samples */
    /* The STFT has n_frames + 1 frames; the last is dropped, so it is never computed. */
    CF_TRY(cf_log_mel_spectrogram(&fe->plan, pcm, keep, window, fe->padding_value, fe->n_frames, out, fe->n_frames,
                                  err));
    compress_dynamic_range(out, (size_t)fe->feature_size * (size_t)fe->n_frames);
    return CF_OK;
}
