/* Text generation with streaming: the new text is printed piece by piece as it is produced.
 *   generate [-m MODEL] [-n MAX_NEW_TOKENS] PROMPT
 * Without -m: gpt2 from the Hugging Face cache, else the bundled stories260k model. */
#include <cformer.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called with each new piece of text (whole UTF-8 characters). */
static void on_text(void *ctx, const char *text, size_t len)
{
    size_t *pieces = ctx;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    (*pieces)++;
}

int main(int argc, char **argv)
{
    const char *model = NULL;
    int max_new_tokens = 40, i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "-m"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "-n"))
            max_new_tokens = atoi(argv[i + 1]);
        else
            break;
    }
    if (i != argc - 1) {
        fprintf(stderr, "usage: %s [-m MODEL] [-n MAX_NEW_TOKENS] PROMPT\n", argv[0]);
        return 2;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "inputs", argv[i]);
    cJSON *params = cJSON_AddObjectToObject(body, "parameters");
    cJSON_AddNumberToObject(params, "max_new_tokens", max_new_tokens);
    cJSON_AddBoolToObject(params, "do_sample", 0);
    char *payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);

    cf_error err = {0};
    cf_pipeline *p = NULL;
    cf_result *r = NULL;
    size_t pieces = 0;
    int rc = 1;
    if (cf_pipeline_open("text-generation", model, NULL, &p, &err) == CF_OK) {
        fputs(argv[i], stdout); /* the stream carries only the new text */
        if (cf_pipeline_run_stream(p, payload, on_text, &pieces, &r, &err) == CF_OK) {
            /* The final result is the Python pipeline's JSON: [{"generated_text": prompt + new text}]. */
            fprintf(stderr, "\n(%zu pieces streamed)\n%s\n", pieces, cf_result_json(r));
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "generate: %s: %s\n", cf_status_name(err.status), err.message);
    cf_result_free(r);
    cf_pipeline_free(p);
    cJSON_free(payload);
    return rc;
}
