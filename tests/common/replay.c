#include "common/replay.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "pipelines/pipeline.h"

/* args[0], as a path when it names a file of the case folder. */
static cJSON *first_argument(const char *dir, const cJSON *args)
{
    const cJSON *arg = cJSON_GetArrayItem(args, 0);
    if (dir && cJSON_IsString(arg)) {
        char path[8200];
        snprintf(path, sizeof path, "%s/%s", dir, arg->valuestring);
        if (strlen(arg->valuestring) < 4096 && cf_file_exists(path))
            return cJSON_CreateString(path);
    }
    return cJSON_Duplicate(arg, true);
}

char *cf_test_call_payload(const char *dir, const cJSON *call)
{
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(call, "task"));
    const cJSON *args = cJSON_GetObjectItem(call, "args"), *kwargs = cJSON_GetObjectItem(call, "kwargs");
    cJSON *body = cJSON_CreateObject();
    cJSON *params = kwargs ? cJSON_Duplicate(kwargs, true) : cJSON_CreateObject();
    if (task && !strcmp(task, "question-answering") && cJSON_GetArraySize(args) == 0) {
        cJSON *in = cJSON_AddObjectToObject(body, "inputs");
        cJSON_AddItemToObject(in, "question", cJSON_DetachItemFromObject(params, "question"));
        cJSON_AddItemToObject(in, "context", cJSON_DetachItemFromObject(params, "context"));
    } else {
        cJSON_AddItemToObject(body, "inputs", first_argument(dir, args));
        if (cJSON_GetArraySize(args) > 1) /* zero-shot's second positional argument */
            cJSON_AddItemToObject(params, "candidate_labels", cJSON_Duplicate(cJSON_GetArrayItem(args, 1), true));
    }
    cJSON_AddItemToObject(body, "parameters", params);
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return s;
}

size_t cf_test_each_call(const char *family, cf_test_entry_fn fn, void *ctx)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "expected.json", &dirs);
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
        cJSON *expected = cf_test_read_json(path);
        cr_assert(expected, "%s: unreadable", path);
        const cJSON *entry;
        int index = 0;
        cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls")) fn(dirs[i], entry, index++, ctx);
        cJSON_Delete(expected);
    }
    cf_test_free_list(dirs, n);
    return n;
}

typedef struct replay_ctx {
    const cf_json_tolerance *tol;
    cf_test_tally *tally;
} replay_ctx;

static void replay_entry(const char *dir, const cJSON *entry, int index, void *ctx)
{
    (void)index;
    const replay_ctx *r = ctx;
    const cJSON *call = cJSON_GetObjectItem(entry, "call");
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(call, "task"));
    cr_assert(task, "%s: a recorded call without a task", dir);
    char *payload = cf_test_call_payload(dir, call), *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
    r->tally->calls++;
    cr_expect_eq(s, CF_OK, "%s: %s %s: %s", dir, task, payload, err.message);
    if (s == CF_OK) {
        cJSON *got = cJSON_Parse(out);
        char why[1024];
        bool ok = cf_json_matches(got, cJSON_GetObjectItem(entry, "output"), r->tol, why, sizeof why);
        cr_expect(ok, "%s: %s %s: %s\n got %.2000s", dir, task, payload, why, out);
        r->tally->passed += ok;
        cJSON_Delete(got);
    }
    free(out);
    free(payload);
}

void cf_test_replay_family(const char *family, const cf_json_tolerance *tol, cf_test_tally *t)
{
    replay_ctx r = {tol, t};
    t->cases += cf_test_each_call(family, replay_entry, &r);
}
