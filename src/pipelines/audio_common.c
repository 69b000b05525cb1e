#include "pipelines/audio_common.h"

#include <stdio.h>

#include "media/audio.h"

cf_status cf_audio_input(const cJSON *inputs, int rate, float **pcm, size_t *n, cf_error *err)
{
    *pcm = NULL;
    *n = 0;
    if (!cJSON_IsString(inputs) || !inputs->valuestring[0])
        return cf_fail(err, CF_ERR_INVALID_ARG, "inputs must be the path of an audio file (WAV, FLAC, MP3, OGG, ...)");
    CF_TRY(cf_audio_load_file(inputs->valuestring, rate, 0, pcm, n, err));
    if (*n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: the file holds no audio samples", inputs->valuestring);
    return CF_OK;
}

void cf_audio_progress(const char *task, size_t i, size_t n, double seconds)
{
    if (seconds > 30.0 && n > 1)
        fprintf(stderr, "%s: window %zu/%zu of %.1f s\n", task, i + 1, n, seconds);
}
