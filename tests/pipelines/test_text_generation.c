/* text-generation pipeline: every `calls` entry with task text-generation in the expected.json
 * of every case under ${CFORMER_FIXTURES}/{gpt2,llama}/ is replayed the way `cformer run
 * text-generation -m CASE --json '{"inputs": args[0], "parameters": kwargs}'` runs it; the
 * output JSON must equal Python's exactly. Also llama2.c's own greedy text from <s>. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "common/replay.h"
#include "common/testutil.h"

static size_t replay_family(const char *family)
{
    char **dirs;
    size_t n = cf_test_cases(family, "expected.json", &dirs), calls = 0;
    for (size_t d = 0; d < n; d++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/expected.json", dirs[d]);
        cJSON *exp = cf_test_read_json(path);
        cr_assert(exp);
        const cJSON *list = cJSON_GetObjectItem(exp, "calls");
        cf_pipeline *p = NULL;
        cf_error err = {0};
        for (const cJSON *c = list ? list->child : NULL; c; c = c->next) {
            const cJSON *call = cJSON_GetObjectItem(c, "call");
            const cJSON *task = cJSON_GetObjectItem(call, "task");
            if (!cJSON_IsString(task) || strcmp(task->valuestring, "text-generation"))
                continue;
            if (!p)
                cr_assert_eq(cf_pipeline_open("text-generation", dirs[d], NULL, &p, &err), CF_OK, "%s: %s", dirs[d],
                             err.message);
            char *body = cf_test_call_payload(NULL, call);
            cf_result *r = NULL;
            cr_assert_eq(cf_pipeline_run(p, body, &r, &err), CF_OK, "%s: %s: %s", dirs[d], body, err.message);
            cJSON *got = cJSON_Parse(cf_result_json(r));
            char *want = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "output"));
            cr_expect(cJSON_Compare(got, cJSON_GetObjectItem(c, "output"), true), "%s: %s\n got  %s\n want %s",
                      dirs[d], body, cf_result_json(r), want);
            free(want);
            cJSON_Delete(got);
            cf_result_free(r);
            free(body);
            calls++;
        }
        cf_pipeline_free(p);
        cJSON_Delete(exp);
    }
    cf_test_free_list(dirs, n);
    return calls;
}

Test(text_generation, gpt2_calls) { cr_assert(replay_family("gpt2") > 0, "no gpt2 text-generation calls found"); }
Test(text_generation, llama_calls) { cr_assert(replay_family("llama") > 0, "no llama text-generation calls found"); }

Test(text_generation, bad_parameters_are_errors)
{
    char **dirs;
    size_t n = cf_test_cases("llama", "expected.json", &dirs);
    cr_assert(n > 0);
    cf_pipeline *p;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_open("text-generation", dirs[0], NULL, &p, &err), CF_OK, "%s", err.message);
    const char *bad[] = {
        "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": \"x\"}}",
        "{\"inputs\": \"a\", \"parameters\": {\"no_such_option\": 1}}",
        "{\"inputs\": \"a\", \"parameters\": {\"temperature\": -1, \"do_sample\": true}}",
        "{\"inputs\": \"a\", \"parameters\": {\"num_beams\": 2, \"num_return_sequences\": 3}}",
        "{\"inputs\": \"a\", \"parameters\": {\"max_new_tokens\": 100000}}",
        "{\"inputs\": 5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cf_result *r = NULL;
        cr_expect_neq(cf_pipeline_run(p, bad[i], &r, &err), CF_OK, "accepted %s", bad[i]);
        cr_expect(err.message[0], "no message for %s", bad[i]);
        cf_result_free(r);
    }
    cf_pipeline_free(p);
    cf_test_free_list(dirs, n);
}
