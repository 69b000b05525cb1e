#include "pipelines/audio_common.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/audio.h"
#include "pipelines/vision_common.h"

/* Base64 of an audio file's bytes (optionally a data: URL), as the Inference API sends them. */
static cf_status load_base64(const char *s, int rate, float **pcm, size_t *n, cf_error *err)
{
    const char *comma = !strncmp(s, "data:", 5) ? strchr(s, ',') : NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (cf_base64_decode(comma ? comma + 1 : s, &bytes, &size, err) != CF_OK)
        return cf_fail(err, CF_ERR_INVALID_ARG, "audio input is neither an existing file nor base64 (%.60s...)", s);
    cf_status st = cf_audio_load_memory(bytes, size, "input audio", rate, 0, pcm, n, err);
    free(bytes);
    return st;
}

static bool names_a_path(const char *s)
{
    struct stat st;
    return stat(s, &st) == 0 || (strlen(s) < 4096 && (strchr(s, '/') || strchr(s, '.')) && !strstr(s, "base64,"));
}

cf_status cf_audio_input(const cJSON *inputs, int rate, float **pcm, size_t *n, cf_error *err)
{
    *pcm = NULL;
    *n = 0;
    if (!cJSON_IsString(inputs) || !inputs->valuestring[0])
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "inputs must be the path of an audio file (WAV, FLAC, MP3, OGG, ...) or base64 of its bytes");
    if (names_a_path(inputs->valuestring))
        CF_TRY(cf_audio_load_file(inputs->valuestring, rate, 0, pcm, n, err));
    else
        CF_TRY(load_base64(inputs->valuestring, rate, pcm, n, err));
    if (*n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: the file holds no audio samples", inputs->valuestring);
    return CF_OK;
}

void cf_audio_progress(const char *task, size_t i, size_t n, double seconds)
{
    if (seconds > 30.0 && n > 1)
        fprintf(stderr, "%s: window %zu/%zu of %.1f s\n", task, i + 1, n, seconds);
}
