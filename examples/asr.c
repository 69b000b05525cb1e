/* Speech recognition of an audio file (wav, flac, mp3, ... anything FFmpeg reads).
 *   asr [-m MODEL] AUDIO_FILE
 * MODEL: a Whisper or Wav2Vec2-CTC folder or Hub id (default: the task's default model). */
#include <cformer.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *model = NULL;
    if (argc == 4 && !strcmp(argv[1], "-m"))
        model = argv[2];
    else if (argc != 2) {
        fprintf(stderr, "usage: %s [-m MODEL] AUDIO_FILE\n", argv[0]);
        return 2;
    }
    /* Audio inputs are file paths, as in the Python pipeline. */
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "inputs", argv[argc - 1]);
    char *payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);

    cf_error err = {0};
    cf_pipeline *p = NULL;
    cf_result *r = NULL;
    int rc = 1;
    if (cf_pipeline_open("automatic-speech-recognition", model, NULL, &p, &err) == CF_OK &&
        cf_pipeline_run(p, payload, &r, &err) == CF_OK) {
        cJSON *out = cJSON_Parse(cf_result_json(r)); /* {"text": "..."} */
        puts(cJSON_GetStringValue(cJSON_GetObjectItem(out, "text")));
        cJSON_Delete(out);
        rc = 0;
    } else {
        fprintf(stderr, "asr: %s: %s\n", cf_status_name(err.status), err.message);
    }
    cf_result_free(r);
    cf_pipeline_free(p);
    cJSON_free(payload);
    return rc;
}
