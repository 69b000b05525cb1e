/* Mel filter bank and log-mel STFT, following transformers.audio_utils (mel_filter_bank,
 * window_function, spectrogram) step by step. */
#include "media/mel.h"

#include <kiss_fftr.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"

#define MEL_FLOOR 1e-10f
#define MAX_FFT 65536

/* ------------------------------------------------------------- mel scales ---- */

/* Slaney's scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above. */
#define SLANEY_MIN_LOG_HZ 1000.0
#define SLANEY_MIN_LOG_MEL 15.0
#define SLANEY_LOGSTEP (27.0 / log(6.4))

double cf_hertz_to_mel(double hertz, cf_mel_scale scale)
{
    switch (scale) {
    case CF_MEL_HTK: return 2595.0 * log10(1.0 + hertz / 700.0);
    case CF_MEL_KALDI: return 1127.0 * log(1.0 + hertz / 700.0);
    case CF_MEL_SLANEY: break;
    }
    if (hertz >= SLANEY_MIN_LOG_HZ)
        return SLANEY_MIN_LOG_MEL + log(hertz / SLANEY_MIN_LOG_HZ) * SLANEY_LOGSTEP;
    return 3.0 * hertz / 200.0;
}

double cf_mel_to_hertz(double mel, cf_mel_scale scale)
{
    switch (scale) {
    case CF_MEL_HTK: return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
    case CF_MEL_KALDI: return 700.0 * (exp(mel / 1127.0) - 1.0);
    case CF_MEL_SLANEY: break;
    }
    if (mel >= SLANEY_MIN_LOG_MEL)
        return SLANEY_MIN_LOG_HZ * exp((log(6.4) / 27.0) * (mel - SLANEY_MIN_LOG_MEL));
    return 200.0 * mel / 3.0;
}

/* numpy.linspace(start, stop, num): start + i * step, with the last point exactly stop. */
static void linspace(double start, double stop, int num, double *out)
{
    double step = num > 1 ? (stop - start) / (num - 1) : 0.0;
    for (int i = 0; i < num; i++)
        out[i] = (double)i * step + start;
    if (num > 1)
        out[num - 1] = stop;
}

cf_status cf_mel_filter_bank(int n_freq, int n_mels, double min_hz, double max_hz, int sampling_rate, bool slaney_norm,
                             cf_mel_scale scale, double *weights, cf_error *err)
{
    if (n_freq < 2 || n_mels < 1 || sampling_rate <= 0 || !(min_hz >= 0.0) || !(max_hz > min_hz))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "mel filter bank: need n_freq >= 2, n_mels >= 1, sampling_rate > 0 and 0 <= fmin < fmax "
                       "(got %d, %d, %d, %g, %g)",
                       n_freq, n_mels, sampling_rate, min_hz, max_hz);
    double *mel_points = malloc((size_t)(n_mels + 2) * sizeof *mel_points);
    double *fft_freqs = malloc((size_t)n_freq * sizeof *fft_freqs);
    if (!mel_points || !fft_freqs) {
        free(mel_points);
        free(fft_freqs);
        return cf_fail(err, CF_ERR_NOMEM, "mel filter bank: out of memory");
    }
    /* Triangle corners: n_mels + 2 points evenly spaced in mel, converted back to Hz. */
    linspace(cf_hertz_to_mel(min_hz, scale), cf_hertz_to_mel(max_hz, scale), n_mels + 2, mel_points);
    double *filter_freqs = mel_points;
    for (int j = 0; j < n_mels + 2; j++)
        filter_freqs[j] = cf_mel_to_hertz(mel_points[j], scale);
    linspace(0.0, (double)(sampling_rate / 2), n_freq, fft_freqs);

    for (int i = 0; i < n_freq; i++) {
        for (int j = 0; j < n_mels; j++) {
            double down = -(filter_freqs[j] - fft_freqs[i]) / (filter_freqs[j + 1] - filter_freqs[j]);
            double up = (filter_freqs[j + 2] - fft_freqs[i]) / (filter_freqs[j + 2] - filter_freqs[j + 1]);
            double w = fmax(0.0, fmin(down, up));
            if (slaney_norm) /* constant energy per channel */
                w *= 2.0 / (filter_freqs[j + 2] - filter_freqs[j]);
            weights[(size_t)i * n_mels + j] = w;
        }
    }
    free(mel_points);
    free(fft_freqs);
    return CF_OK;
}

/* ------------------------------------------------------------------- plan ---- */

/* window_function(n, "hann", periodic=True): numpy.hanning(n + 1)[:-1]. */
static void hann_periodic(int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n));
}

cf_status cf_mel_plan_init(cf_mel_plan *plan, int n_fft, int hop, int n_mels, const double *weights, cf_error *err)
{
    memset(plan, 0, sizeof *plan);
    if (n_fft < 4 || n_fft > MAX_FFT || n_fft % 2 != 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "n_fft %d: an even size in 4..%d is needed", n_fft, MAX_FFT);
    if (hop < 1 || hop > MAX_FFT)
        return cf_fail(err, CF_ERR_INVALID_ARG, "hop_length %d: must be in 1..%d", hop, MAX_FFT);
    if (n_mels < 1 || n_mels > 4096)
        return cf_fail(err, CF_ERR_INVALID_ARG, "number of mel bins %d: must be in 1..4096", n_mels);
    plan->n_fft = n_fft;
    plan->hop = hop;
    plan->n_freq = n_fft / 2 + 1;
    plan->n_mels = n_mels;
    plan->mel_floor = MEL_FLOOR;
    plan->window = malloc((size_t)n_fft * sizeof *plan->window);
    plan->band_start = calloc((size_t)n_mels, sizeof *plan->band_start);
    plan->band_len = calloc((size_t)n_mels, sizeof *plan->band_len);
    plan->band_weights = calloc((size_t)n_mels, sizeof *plan->band_weights);
    plan->weights_store = malloc((size_t)n_mels * plan->n_freq * sizeof *plan->weights_store);
    if (!plan->window || !plan->band_start || !plan->band_len || !plan->band_weights || !plan->weights_store) {
        cf_mel_plan_free(plan);
        return cf_fail(err, CF_ERR_NOMEM, "mel plan: out of memory");
    }
    hann_periodic(n_fft, plan->window);
    /* Keep each triangle as the span from its first to its last non-zero bin. */
    float *store = plan->weights_store;
    for (int m = 0; m < n_mels; m++) {
        int first = -1, last = -1;
        for (int f = 0; f < plan->n_freq; f++) {
            if (weights[(size_t)f * n_mels + m] != 0.0) {
                if (first < 0)
                    first = f;
                last = f;
            }
        }
        plan->band_weights[m] = store;
        if (first < 0)
            continue;
        plan->band_start[m] = first;
        plan->band_len[m] = last - first + 1;
        for (int f = first; f <= last; f++)
            *store++ = (float)weights[(size_t)f * n_mels + m];
    }
    return CF_OK;
}

void cf_mel_plan_free(cf_mel_plan *plan)
{
    free(plan->window);
    free(plan->band_start);
    free(plan->band_len);
    free(plan->band_weights);
    free(plan->weights_store);
    memset(plan, 0, sizeof *plan);
}

int64_t cf_mel_frames(const cf_mel_plan *plan, size_t n)
{
    /* 1 + floor((n + 2 * (n_fft / 2) - n_fft) / hop); n_fft is even. */
    return 1 + (int64_t)(n / (size_t)plan->hop);
}

/* ----------------------------------------------------------- spectrogram ---- */

/* Per-worker scratch: the real FFT's state holds its own temporary buffer, so every block of
 * frames gets its own. */
typedef struct stft_scratch {
    kiss_fftr_cfg fft;
    float *frame;        /* n_fft */
    kiss_fft_cpx *bins;  /* n_freq */
    float *power;        /* n_freq */
} stft_scratch;

/* The signal as the STFT sees it: `n` real samples, then `padding` up to `length`, mirrored by
 * n_fft / 2 at both ends (numpy.pad mode "reflect": the edge sample is not repeated). */
typedef struct padded_signal {
    const float *x;
    int64_t n, length, pad;
    float padding;
} padded_signal;

static float sample_at(const padded_signal *s, int64_t i)
{
    int64_t j = i - s->pad;
    if (j < 0)
        j = -j;
    else if (j >= s->length)
        j = 2 * (s->length - 1) - j;
    return j < s->n ? s->x[j] : s->padding;
}

/* Does frame t read only padding (its samples all map past the real ones)? */
static bool frame_is_padding(const padded_signal *s, int64_t start, int n_fft)
{
    int64_t first = start - s->pad, last = first + n_fft - 1;
    int64_t mirrored_last = last >= s->length ? 2 * (s->length - 1) - last : last;
    return first >= s->n && mirrored_last >= s->n;
}

typedef struct stft_job {
    const cf_mel_plan *plan;
    padded_signal signal;
    int64_t n_frames, frames_per_block;
    float *out;
    int64_t out_stride;
    stft_scratch *scratch;
    const float *padding_column; /* log-mel of a frame of pure padding, or NULL */
} stft_job;

static const float LOG10_E = 0.43429448190325182f;

/* One column: window, real FFT, power, mel projection, log10 with the floor. */
static void log_mel_frame(const cf_mel_plan *plan, stft_scratch *s, float *out, int64_t out_stride)
{
    kiss_fftr(s->fft, s->frame, s->bins);
    for (int f = 0; f < plan->n_freq; f++)
        s->power[f] = s->bins[f].r * s->bins[f].r + s->bins[f].i * s->bins[f].i;
    for (int m = 0; m < plan->n_mels; m++) {
        const float *w = plan->band_weights[m];
        const float *p = s->power + plan->band_start[m];
        float energy = 0.0f;
        for (int f = 0; f < plan->band_len[m]; f++)
            energy += w[f] * p[f];
        energy = energy > plan->mel_floor ? energy : plan->mel_floor;
        out[(int64_t)m * out_stride] = logf(energy) * LOG10_E;
    }
}

static void load_frame(const stft_job *job, stft_scratch *s, int64_t t)
{
    const padded_signal *sig = &job->signal;
    const float *window = job->plan->window;
    int n_fft = job->plan->n_fft;
    int64_t start = t * job->plan->hop, first = start - sig->pad;
    if (first >= 0 && first + n_fft <= sig->n) { /* inside the real samples: the common case */
        const float *x = sig->x + first;
        for (int k = 0; k < n_fft; k++)
            s->frame[k] = x[k] * window[k];
    } else {
        for (int k = 0; k < n_fft; k++)
            s->frame[k] = sample_at(sig, start + k) * window[k];
    }
}

static void stft_block(void *ctx, int64_t begin, int64_t end)
{
    stft_job *job = ctx;
    const cf_mel_plan *plan = job->plan;
    for (int64_t b = begin; b < end; b++) {
        int64_t t0 = b * job->frames_per_block;
        int64_t t1 = t0 + job->frames_per_block < job->n_frames ? t0 + job->frames_per_block : job->n_frames;
        for (int64_t t = t0; t < t1; t++) {
            if (job->padding_column && frame_is_padding(&job->signal, t * plan->hop, plan->n_fft)) {
                for (int m = 0; m < plan->n_mels; m++)
                    job->out[(int64_t)m * job->out_stride + t] = job->padding_column[m];
                continue;
            }
            load_frame(job, &job->scratch[b], t);
            log_mel_frame(plan, &job->scratch[b], job->out + t, job->out_stride);
        }
    }
}

static void free_scratch(stft_scratch *s, int64_t n)
{
    for (int64_t i = 0; s && i < n; i++) {
        kiss_fftr_free(s[i].fft);
        free(s[i].frame);
        free(s[i].bins);
        free(s[i].power);
    }
    free(s);
}

static stft_scratch *alloc_scratch(const cf_mel_plan *plan, int64_t n)
{
    stft_scratch *s = calloc((size_t)n, sizeof *s);
    for (int64_t i = 0; s && i < n; i++) {
        s[i].fft = kiss_fftr_alloc(plan->n_fft, 0, NULL, NULL);
        s[i].frame = malloc((size_t)plan->n_fft * sizeof(float));
        s[i].bins = malloc((size_t)plan->n_freq * sizeof(kiss_fft_cpx));
        s[i].power = malloc((size_t)plan->n_freq * sizeof(float));
        if (!s[i].fft || !s[i].frame || !s[i].bins || !s[i].power) {
            free_scratch(s, i + 1);
            return NULL;
        }
    }
    return s;
}

cf_status cf_log_mel_spectrogram(const cf_mel_plan *plan, const float *signal, size_t n, size_t length,
                                 float padding, int64_t n_frames, float *out, int64_t out_stride, cf_error *err)
{
    int64_t pad = plan->n_fft / 2;
    if (length < n || length <= (size_t)pad || length > (size_t)INT64_MAX / 4)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "log-mel: %zu samples (%zu real) is too short for reflect padding of %lld", length, n,
                       (long long)pad);
    if (n_frames < 0 || n_frames > cf_mel_frames(plan, length) || out_stride < n_frames)
        return cf_fail(err, CF_ERR_INVALID_ARG, "log-mel: %lld frames asked, %lld available (stride %lld)",
                       (long long)n_frames, (long long)cf_mel_frames(plan, length), (long long)out_stride);
    if (n_frames == 0)
        return CF_OK;
    int64_t blocks = 4 * (int64_t)cf_threads_count();
    int64_t per_block = (n_frames + blocks - 1) / blocks;
    blocks = (n_frames + per_block - 1) / per_block;
    /* One more scratch for the column of pure padding, shared by every frame past the clip. */
    stft_scratch *scratch = alloc_scratch(plan, blocks + 1);
    float *padding_column = malloc((size_t)plan->n_mels * sizeof *padding_column);
    if (!scratch || !padding_column) {
        free_scratch(scratch, scratch ? blocks + 1 : 0);
        free(padding_column);
        return cf_fail(err, CF_ERR_NOMEM, "log-mel: out of memory for %lld frames", (long long)n_frames);
    }
    stft_job job = {plan, {signal, (int64_t)n, (int64_t)length, pad, padding}, n_frames, per_block, out,
                    out_stride, scratch, NULL};
    if (length > n) {
        for (int k = 0; k < plan->n_fft; k++)
            scratch[blocks].frame[k] = padding * plan->window[k];
        log_mel_frame(plan, &scratch[blocks], padding_column, 1);
        job.padding_column = padding_column;
    }
    cf_parallel_for(blocks, 1, stft_block, &job);
    free_scratch(scratch, blocks + 1);
    free(padding_column);
    return CF_OK;
}
