/* T5 through the text2text pipelines against the Python reference.
 *   every `calls` entry of every fixtures/t5 case (summarization, translation_xx_to_yy) is replayed
 *   through cf_pipeline_run_once, the function `cformer run TASK -m DIR --json PAYLOAD` calls, with
 *   PAYLOAD = {"inputs": args[0], "parameters": kwargs}: texts exact;
 *   text2text-generation has no recorded calls: given the task's prefix in the text and the task's
 *   task_specific_params (then the call's kwargs) as parameters, it must say exactly what the
 *   recorded summarization / translation call said, under "generated_text";
 *   the same calls on the folder without tokenizer.json (spiece.model alone, as the slow tokenizer
 *   reads it) give the same texts;
 *   the C API (cf_pipeline_open / cf_pipeline_run) gives the same JSON as the one-shot path. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json_compare.h"
#include "common/testutil.h"
#include "pipelines/pipeline.h"

static const cf_json_tolerance k_exact = {0};

static char *payload(const cJSON *input, const cJSON *params)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "inputs", cJSON_Duplicate(input, true));
    cJSON_AddItemToObject(body, "parameters", params ? cJSON_Duplicate(params, true) : cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return s;
}

static cJSON *run_json(const char *task, const char *dir, const char *body)
{
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, body, &out, &err);
    cr_expect_eq(s, CF_OK, "%s: %s %s: %s", dir, task, body, err.message);
    cJSON *got = s == CF_OK ? cJSON_Parse(out) : NULL;
    free(out);
    return got;
}

static bool expect_matches(const char *dir, const char *task, const char *body, const cJSON *got, const cJSON *want)
{
    char why[1024] = "";
    bool ok = got && cf_json_matches(got, want, &k_exact, why, sizeof why);
    cr_expect(ok, "%s: %s %s: %s", dir, task, body, got ? why : "no output");
    return ok;
}

typedef struct tally {
    size_t calls, passed, derived, derived_passed;
} tally;

/* The same call as text2text-generation: the prefix moves into the text, the task's generation
 * settings into the parameters (the call's own kwargs win), the record key becomes generated_text. */
static void replay_as_text2text(const char *dir, const cJSON *root, const cJSON *call, const cJSON *output,
                                tally *t)
{
    const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
    const cJSON *input = cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0);
    const cJSON *task_params = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "task_specific_params"), task);
    if (!cJSON_IsString(input) || !task_params)
        return;
    cJSON *params = cJSON_Duplicate(task_params, true);
    cJSON *prefix = cJSON_DetachItemFromObject(params, "prefix");
    const cJSON *kw;
    cJSON_ArrayForEach(kw, cJSON_GetObjectItem(call, "kwargs"))
    {
        cJSON_DeleteItemFromObject(params, kw->string);
        cJSON_AddItemToObject(params, kw->string, cJSON_Duplicate(kw, true));
    }
    char text[8192];
    snprintf(text, sizeof text, "%s%s", cJSON_IsString(prefix) ? prefix->valuestring : "", input->valuestring);
    cJSON *text_json = cJSON_CreateString(text);
    char *body = payload(text_json, params);
    cJSON *want = cJSON_CreateArray();
    const cJSON *rec;
    cJSON_ArrayForEach(rec, output)
    {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddItemToObject(r, "generated_text", cJSON_Duplicate(rec->child, true));
        cJSON_AddItemToArray(want, r);
    }
    cJSON *got = run_json("text2text-generation", dir, body);
    t->derived++;
    t->derived_passed += expect_matches(dir, "text2text-generation", body, got, want);
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(body);
    cJSON_Delete(text_json);
    cJSON_Delete(prefix);
    cJSON_Delete(params);
}

static void replay_case(const char *dir, const char *model_dir, bool as_text2text, tally *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *expected = cf_test_read_json(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *config = cf_test_read_json(path);
    cr_assert(expected && config, "%s: expected.json / config.json", dir);
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(entry, "call"), *output = cJSON_GetObjectItem(entry, "output");
        const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
        char *body = payload(cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0),
                             cJSON_GetObjectItem(call, "kwargs"));
        cJSON *got = run_json(task, model_dir, body);
        t->calls++;
        t->passed += expect_matches(model_dir, task, body, got, output);
        cJSON_Delete(got);
        free(body);
        if (as_text2text)
            replay_as_text2text(model_dir, config, call, output, t);
    }
    cJSON_Delete(config);
    cJSON_Delete(expected);
}

Test(t5_pipelines, every_recorded_call)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.json", &dirs);
    cr_assert_gt(n, 0, "no t5 fixture cases under %s", cf_test_fixtures());
    tally t = {0};
    for (size_t i = 0; i < n; i++)
        replay_case(dirs[i], dirs[i], true, &t);
    cr_log_info("%zu cases: %zu of %zu calls match, %zu of %zu as text2text-generation", n, t.passed, t.calls,
                t.derived_passed, t.derived);
    cr_assert_gt(t.calls, 0, "no recorded pipeline calls");
    cr_expect_eq(t.passed, t.calls);
    cr_expect_gt(t.derived, 0, "no call could be replayed as text2text-generation");
    cr_expect_eq(t.derived_passed, t.derived);
    cf_test_free_list(dirs, n);
}

/* A temporary folder linking every file of dir but tokenizer.json. */
static void link_without_tokenizer_json(const char *dir, char *tmp)
{
    cr_assert(mkdtemp(tmp), "mkdtemp %s", tmp);
    DIR *d = opendir(dir);
    cr_assert(d, "%s", dir);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "tokenizer.json"))
            continue;
        char from[4200], to[4200];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", tmp, e->d_name);
        cr_assert_eq(symlink(from, to), 0, "symlink %s", to);
    }
    closedir(d);
}

static void remove_links(const char *tmp)
{
    DIR *d = opendir(tmp);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmp);
}

Test(t5_pipelines, every_recorded_call_from_spiece_model_alone)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.json", &dirs);
    cr_assert_gt(n, 0, "no t5 fixture cases under %s", cf_test_fixtures());
    tally t = {0};
    for (size_t i = 0; i < n; i++) {
        char spm[4200];
        snprintf(spm, sizeof spm, "%s/spiece.model", dirs[i]);
        if (access(spm, R_OK) != 0)
            continue;
        char tmp[] = "/tmp/cf_t5_spm_XXXXXX";
        link_without_tokenizer_json(dirs[i], tmp);
        replay_case(dirs[i], tmp, false, &t);
        remove_links(tmp);
    }
    cr_assert_gt(t.calls, 0, "no t5 case with spiece.model");
    cr_expect_eq(t.passed, t.calls);
    cf_test_free_list(dirs, n);
}

/* The public C API on one pipeline run twice, and a list input: same JSON as the one-shot path. */
Test(t5_pipelines, c_api_matches_one_shot)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.json", &dirs);
    cr_assert_gt(n, 0);
    static const char *const tasks[] = {"summarization", "translation_en_to_de", "text2text-generation"};
    static const char body[] = "{\"inputs\": \"The house is wonderful.\", \"parameters\": {\"max_length\": 8}}";
    static const char list_body[] = "{\"inputs\": [\"The house is wonderful.\", \"The house is wonderful.\"], "
                                    "\"parameters\": {\"max_length\": 8}}";
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof tasks / sizeof tasks[0]; k++) {
            cf_error err = {0};
            char *once = NULL;
            cr_assert_eq(cf_pipeline_run_once(tasks[k], dirs[i], NULL, body, &once, &err), CF_OK, "%s", err.message);
            cf_pipeline *p = NULL;
            cr_assert_eq(cf_pipeline_open(tasks[k], dirs[i], NULL, &p, &err), CF_OK, "%s", err.message);
            for (int rep = 0; rep < 2; rep++) {
                cf_result *r = NULL;
                cr_assert_eq(cf_pipeline_run(p, body, &r, &err), CF_OK, "%s", err.message);
                cr_expect_str_eq(cf_result_json(r), once, "%s %s run %d", dirs[i], tasks[k], rep);
                cf_result_free(r);
            }
            cf_result *r = NULL;
            cr_assert_eq(cf_pipeline_run(p, list_body, &r, &err), CF_OK, "%s", err.message);
            cJSON *list = cJSON_Parse(cf_result_json(r)), *one = cJSON_Parse(once);
            cr_expect_eq(cJSON_GetArraySize(list), 2, "%s", cf_result_json(r));
            for (int j = 0; j < 2; j++)
                cr_expect(cJSON_Compare(cJSON_GetArrayItem(list, j), one->child, true), "%s %s: list item %d: %s",
                          dirs[i], tasks[k], j, cf_result_json(r));
            cJSON_Delete(list);
            cJSON_Delete(one);
            cf_result_free(r);
            cf_pipeline_free(p);
            free(once);
        }
    cf_test_free_list(dirs, n);
}

Test(t5_pipelines, bad_parameters_name_the_key)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.json", &dirs);
    cr_assert_gt(n, 0);
    static const struct { const char *body, *needle; } bad[] = {
        {"{\"inputs\": \"x\", \"parameters\": {\"num_beam\": 2}}", "num_beam"},
        {"{\"inputs\": \"x\", \"parameters\": {\"max_length\": \"long\"}}", "max_length"},
        {"{\"inputs\": 3}", "inputs"},
        {"{\"inputs\": []}", "inputs"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *out = NULL;
        cf_error err = {0};
        cr_expect_neq(cf_pipeline_run_once("text2text-generation", dirs[0], NULL, bad[k].body, &out, &err), CF_OK,
                      "%s", bad[k].body);
        cr_expect(strstr(err.message, bad[k].needle), "%s: %s", bad[k].body, err.message);
        free(out);
    }
    cf_test_free_list(dirs, n);
}
