/* Mel spectrograms as transformers' audio_utils computes them: mel scales, the triangular
 * filter bank of mel_filter_bank(), a periodic Hann window, and a centred short-time power
 * spectrum (reflect padding) projected onto the filter bank and taken to log10. */
#ifndef CF_MEDIA_MEL_H
#define CF_MEDIA_MEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum cf_mel_scale { CF_MEL_HTK = 0, CF_MEL_SLANEY, CF_MEL_KALDI } cf_mel_scale;

double cf_hertz_to_mel(double hertz, cf_mel_scale scale);
double cf_mel_to_hertz(double mel, cf_mel_scale scale);

/* transformers.audio_utils.mel_filter_bank: weights[n_freq][n_mels] (row = FFT bin), triangles
 * between n_mels + 2 points evenly spaced in mel from min_hz to max_hz; FFT bins evenly spaced over
 * [0, sampling_rate // 2]; slaney_norm scales each triangle to constant area. */
cf_status cf_mel_filter_bank(int n_freq, int n_mels, double min_hz, double max_hz, int sampling_rate, bool slaney_norm,
                             cf_mel_scale scale, double *weights, cf_error *err);

/* A log-mel spectrogram plan: window, FFT size, hop and the filter bank stored sparsely (each
 * triangle covers a few consecutive bins). */
typedef struct cf_mel_plan {
    int n_fft, hop, n_freq, n_mels;
    float *window;        /* n_fft, periodic Hann */
    int *band_start;      /* n_mels: first FFT bin of each triangle */
    int *band_len;        /* n_mels: bins it covers (0 for an empty triangle) */
    float **band_weights; /* n_mels pointers into one allocation */
    float *weights_store;
    float mel_floor;      /* power below this is clamped before log10 */
} cf_mel_plan;

/* weights: [n_freq][n_mels] as cf_mel_filter_bank returns. n_fft must be even (real FFT). */
cf_status cf_mel_plan_init(cf_mel_plan *plan, int n_fft, int hop, int n_mels, const double *weights, cf_error *err);
void cf_mel_plan_free(cf_mel_plan *plan);

/* Number of frames of a centred STFT over n samples: 1 + n / hop. */
int64_t cf_mel_frames(const cf_mel_plan *plan, size_t n);

/* log10(max(mel_floor, filters^T |STFT|^2)) for frames [0, n_frames) of a signal of `length`
 * samples (the n of `signal`, then `padding`), centred with n_fft / 2 samples of reflect padding on
 * each side (length > n_fft / 2). out is [n_mels][out_stride], frame t in column t. Frames are
 * computed in parallel on the thread pool. */
cf_status cf_log_mel_spectrogram(const cf_mel_plan *plan, const float *signal, size_t n, size_t length,
                                 float padding, int64_t n_frames, float *out, int64_t out_stride, cf_error *err);

#endif
