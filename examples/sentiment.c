/* Sentiment of a sentence: the smallest complete use of the pipeline API.
 *   sentiment [-m MODEL] TEXT
 * MODEL is a model folder or a Hub id in the Hugging Face cache; without it the task's
 * default model (distilbert-base-uncased-finetuned-sst-2-english) is used. */
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
        fprintf(stderr, "usage: %s [-m MODEL] TEXT\n", argv[0]);
        return 2;
    }
    const char *text = argv[argc - 1];

    /* The payload is the Inference API body; build it with a JSON library to get the quoting right. */
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "inputs", text);
    char *payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);

    cf_error err = {0};
    cf_pipeline *p = NULL;
    cf_result *r = NULL;
    int rc = 1;
    if (cf_pipeline_open("sentiment-analysis", model, NULL, &p, &err) == CF_OK &&
        cf_pipeline_run(p, payload, &r, &err) == CF_OK) {
        puts(cf_result_json(r)); /* [{"label":"POSITIVE","score":0.99...}] */
        rc = 0;
    } else {
        fprintf(stderr, "sentiment: %s: %s\n", cf_status_name(err.status), err.message);
    }
    cf_result_free(r);
    cf_pipeline_free(p);
    cJSON_free(payload);
    return rc;
}
