/* Fixture cases for the server tests, found by walking ${CFORMER_FIXTURES} (never by name): the
 * first case whose first pipeline call runs a given task, with that call as an Inference API body. */
#ifndef CF_TEST_SERVER_FIXTURE_CASE_H
#define CF_TEST_SERVER_FIXTURE_CASE_H

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "core/buf.h"

typedef struct fixture_case {
    char dir[4096];
    char task[64];
    char *payload; /* the first call as an Inference API body */
    char arg[4200]; /* the first call's first argument, as a path when it names a file of the case */
} fixture_case;

/* The first call of dir/expected.json when its task is one of `tasks`. */
static inline bool read_case(const char *dir, const char *const *tasks, fixture_case *fc)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = NULL;
    size_t len = 0;
    if (cf_read_file(path, 1u << 24, &text, &len, NULL) != CF_OK)
        return false;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *call = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "calls"), 0), "call");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(call, "task");
    const cJSON *arg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(call, "args"), 0);
    bool match = false;
    for (int i = 0; tasks[i] && cJSON_IsString(task) && cJSON_IsString(arg); i++)
        match |= !strcmp(task->valuestring, tasks[i]);
    if (match) {
        snprintf(fc->dir, sizeof fc->dir, "%s", dir);
        snprintf(fc->task, sizeof fc->task, "%s", task->valuestring);
        snprintf(fc->arg, sizeof fc->arg, "%s/%s", dir, arg->valuestring);
        if (!cf_file_exists(fc->arg))
            snprintf(fc->arg, sizeof fc->arg, "%s", arg->valuestring);
        cJSON *body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "inputs", fc->arg);
        const cJSON *kwargs = cJSON_GetObjectItemCaseSensitive(call, "kwargs");
        cJSON_AddItemToObject(body, "parameters",
                              kwargs ? cJSON_Duplicate(kwargs, true) : cJSON_CreateObject());
        fc->payload = cJSON_PrintUnformatted(body);
        cJSON_Delete(body);
    }
    cJSON_Delete(root);
    return match;
}

/* The first case (by path) under `family` (NULL: every family) whose first call runs one of `tasks`. */
static inline bool find_case(const char *family, const char *const *tasks, fixture_case *fc)
{
    memset(fc, 0, sizeof *fc);
    char **families = NULL;
    size_t n_fam = 0;
    DIR *d = family ? NULL : opendir(cf_test_fixtures());
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            families = realloc(families, (n_fam + 1) * sizeof *families);
            families[n_fam++] = strdup(e->d_name);
        }
    if (d)
        closedir(d);
    if (family) {
        families = malloc(sizeof *families);
        families[n_fam++] = strdup(family);
    }
    char best[4096] = "";
    for (size_t f = 0; f < n_fam; f++) {
        char **cases = NULL;
        size_t n = cf_test_cases(families[f], "expected.json", &cases);
        for (size_t i = 0; i < n; i++) {
            fixture_case c = {0};
            if ((!best[0] || strcmp(cases[i], best) < 0) && read_case(cases[i], tasks, &c)) {
                snprintf(best, sizeof best, "%s", cases[i]);
                free(fc->payload);
                *fc = c;
            } else {
                free(c.payload);
            }
        }
        cf_test_free_list(cases, n);
        free(families[f]);
    }
    free(families);
    return best[0] != '\0';
}

static const char *const k_object_detection[] = {"object-detection", NULL};
static const char *const k_classification[] = {"text-classification", "sentiment-analysis", NULL};
static const char *const k_generation[] = {"text-generation", NULL};
static const char *const k_image_classification[] = {"image-classification", NULL};
static const char *const k_audio_classification[] = {"audio-classification", NULL};

#endif
