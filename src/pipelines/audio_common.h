/* What the audio pipelines share: reading the payload's audio input (a file path, decoded and
 * resampled as the Python pipeline's ffmpeg_read does) and progress lines for long clips. */
#ifndef CF_PIPELINES_AUDIO_COMMON_H
#define CF_PIPELINES_AUDIO_COMMON_H

#include <stddef.h>

#include "pipelines/pipeline.h"

/* inputs: a JSON string naming an audio file, or base64 of the file's bytes (a data: URL too).
 * *pcm (malloc'ed) gets n mono samples at `rate`. */
cf_status cf_audio_input(const cJSON *inputs, int rate, float **pcm, size_t *n, cf_error *err);

/* "task: window i/n" on stderr when the clip is longer than 30 s (n > 1 windows). */
void cf_audio_progress(const char *task, size_t i, size_t n, double seconds);

#endif
