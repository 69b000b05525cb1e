/* libFuzzer: arbitrary bytes as an Inference-API payload for the six text pipelines. The first
 * byte picks the task; the rest is the payload. Pipelines are opened once on fixture models
 * found by architecture under $CFORMER_FIXTURES (default ../shared/fixtures). Every failure
 * must come back as a status with a message, never a crash. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "core/buf.h"

static const struct {
    const char *task, *arch;
} k_tasks[] = {
    {"text-classification", "ForSequenceClassification"}, {"zero-shot-classification", "ForSequenceClassification"},
    {"token-classification", "ForTokenClassification"},    {"question-answering", "ForQuestionAnswering"},
    {"fill-mask", "ForMaskedLM"},                          {"feature-extraction", "Model"},
};
#define N_TASKS (sizeof k_tasks / sizeof k_tasks[0])
static cf_pipeline *g_pipes[N_TASKS];

/* First folder of fixtures/bert whose config.json names an architecture ending in `arch`. */
static bool find_model(const char *arch, char *out, size_t size)
{
    const char *root = getenv("CFORMER_FIXTURES");
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/bert", root && *root ? root : "../shared/fixtures");
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s/config.json", dir, e->d_name);
        char *text = NULL;
        size_t len = 0;
        cf_error err = {0};
        if (e->d_name[0] == '.' || cf_read_file(path, 1 << 20, &text, &len, &err) != CF_OK)
            continue;
        cJSON *cfg = cJSON_Parse(text);
        const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
        size_t n = cJSON_IsString(a) ? strlen(a->valuestring) : 0, m = strlen(arch);
        if (n >= m && !strcmp(a->valuestring + n - m, arch)) {
            snprintf(out, size, "%s/%s", dir, e->d_name);
            found = true;
        }
        cJSON_Delete(cfg);
        free(text);
    }
    if (d)
        closedir(d);
    return found;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < N_TASKS; i++) {
        char dir[4200];
        cf_error err = {0};
        if (!find_model(k_tasks[i].arch, dir, sizeof dir) ||
            cf_pipeline_open(k_tasks[i].task, dir, NULL, &g_pipes[i], &err) != CF_OK) {
            fprintf(stderr, "fuzz_payload: cannot open %s on a fixture model: %s\n", k_tasks[i].task, err.message);
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *payload = malloc(size);
    memcpy(payload, data + 1, size - 1);
    payload[size - 1] = '\0';
    cf_result *r = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run(g_pipes[data[0] % N_TASKS], payload, &r, &err);
    if (s != CF_OK && !err.message[0])
        abort(); /* a failure must say why */
    if (s == CF_OK && !cf_result_json(r))
        abort();
    cf_result_free(r);
    free(payload);
    return 0;
}
