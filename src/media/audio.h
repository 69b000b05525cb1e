/* Audio in: decode a file or in-memory bytes (WAV, FLAC, OGG/Vorbis/Opus, MP3, anything FFmpeg
 * reads), downmix to mono and resample to the rate a feature extractor wants.
 *
 * The Python pipeline decodes by piping the bytes through `ffmpeg -i pipe:0 -ac 1 -ar R -f f32le`.
 * This does the same with the same libraries: the bytes are read as a non-seekable stream, and one
 * libswresample context with the library defaults converts format, channels and rate at once (the
 * filter the ffmpeg command line inserts), then is drained at the end. The result is the same
 * float32 waveform sample for sample. */
#ifndef CF_MEDIA_AUDIO_H
#define CF_MEDIA_AUDIO_H

#include <stddef.h>

#include "core/error.h"

/* Longest clip accepted when the caller passes max_seconds <= 0. */
#define CF_AUDIO_DEFAULT_MAX_SECONDS 3600.0
/* Largest encoded file accepted (1 GiB). */
#define CF_AUDIO_MAX_FILE_BYTES ((size_t)1 << 30)

/* Facts about the decoded stream before conversion (optional out-parameter). */
typedef struct cf_audio_info {
    int sample_rate;   /* of the stream as stored */
    int channels;
    char codec[32];    /* decoder name, e.g. "flac" */
    char format[32];   /* container name, e.g. "wav" */
} cf_audio_info;

/* Decode a file to mono float32 at target_rate. *pcm is malloc'ed (free with free()), *n samples.
 * Fails with a message naming the file for an unreadable, empty or corrupt file, a stream with a
 * sample rate of 0, or a clip longer than max_seconds (<= 0: CF_AUDIO_DEFAULT_MAX_SECONDS). */
cf_status cf_audio_load_file(const char *path, int target_rate, double max_seconds, float **pcm, size_t *n,
                             cf_error *err);

/* Same from encoded bytes in memory; `name` is used in messages only (may be NULL). */
cf_status cf_audio_load_memory(const void *data, size_t size, const char *name, int target_rate,
                               double max_seconds, float **pcm, size_t *n, cf_error *err);

/* Same as cf_audio_load_memory, also reporting what the stream was (info may be NULL). */
cf_status cf_audio_decode(const void *data, size_t size, const char *name, int target_rate, double max_seconds,
                          float **pcm, size_t *n, cf_audio_info *info, cf_error *err);

/* Raw interleaved float32 PCM (frames x channels at `rate`) -> mono float32 at target_rate,
 * with the same downmix and resampler. */
cf_status cf_audio_from_f32(const float *interleaved, size_t frames, int channels, int rate, int target_rate,
                            double max_seconds, float **pcm, size_t *n, cf_error *err);

#endif
