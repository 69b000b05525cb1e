/* summarization, translation, zero-shot- and text-classification on the encoder-decoders against
 * the Python reference: every `calls` entry of every case's expected.json under
 * fixtures/{bart,marian} is replayed through cf_pipeline_run_once, the function
 * `cformer run TASK -m DIR --json PAYLOAD` calls, with PAYLOAD = {"inputs": args[0],
 * "parameters": kwargs} (zero-shot: a second positional argument is candidate_labels).
 * Tolerances: generated texts, labels and key order exact; scores within 1e-5 absolute. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_compare.h"
#include "common/replay.h"
#include "common/testutil.h"
#include "pipelines/pipeline.h"

static const cf_json_tolerance k_tol = {.score_atol = 1e-5, .value_atol = 0, .value_rtol = 0};
static const char *const k_families[] = {"bart", "marian"};

Test(seq2seq_pipelines, every_recorded_call)
{
    cf_test_tally t = {0};
    for (size_t f = 0; f < sizeof k_families / sizeof *k_families; f++)
        cf_test_replay_family(k_families[f], &k_tol, &t);
    cr_log_info("%zu cases, %zu of %zu calls match", t.cases, t.passed, t.calls);
    cr_assert_gt(t.calls, 0, "no recorded pipeline calls under %s", cf_test_fixtures());
    cr_expect_eq(t.passed, t.calls);
}

/* ---- the public C API: one pipeline object serves every call of a case ---- */

Test(seq2seq_pipelines, one_pipeline_serves_every_call)
{
    size_t runs = 0;
    for (size_t f = 0; f < sizeof k_families / sizeof *k_families; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(k_families[f], "expected.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
            cJSON *expected = cf_test_read_json(path);
            const cJSON *calls = cJSON_GetObjectItem(expected, "calls"), *entry;
            const char *task = cJSON_GetObjectItem(cJSON_GetObjectItem(calls->child, "call"), "task")->valuestring;
            cf_pipeline *p = NULL;
            cf_error err = {0};
            cr_assert_eq(cf_pipeline_open(task, dirs[i], "{\"threads\": 2}", &p, &err), CF_OK, "%s", err.message);
            cJSON_ArrayForEach(entry, calls)
            {
                const cJSON *call = cJSON_GetObjectItem(entry, "call");
                if (strcmp(cJSON_GetObjectItem(call, "task")->valuestring, task))
                    continue;
                char *payload = cf_test_call_payload(NULL, call), why[1024];
                cf_result *r = NULL;
                cr_assert_eq(cf_pipeline_run(p, payload, &r, &err), CF_OK, "%s: %s", payload, err.message);
                cJSON *got = cJSON_Parse(cf_result_json(r));
                cr_expect(cf_json_matches(got, cJSON_GetObjectItem(entry, "output"), &k_tol, why, sizeof why),
                          "%s: %s: %s", dirs[i], payload, why);
                runs++;
                cJSON_Delete(got);
                cf_result_free(r);
                free(payload);
            }
            cf_pipeline_free(p);
            cJSON_Delete(expected);
        }
        cf_test_free_list(dirs, n);
    }
    cr_assert_gt(runs, 0);
}

/* ---- errors name the problem ---- */

/* The first case folder of `family` whose config.json architectures[0] contains `arch`. */
static char *case_with_arch(const char *family, const char *arch)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "config.json", &dirs);
    char *found = NULL;
    for (size_t i = 0; i < n && !found; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/config.json", dirs[i]);
        cJSON *cfg = cf_test_read_json(path);
        const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
        if (cJSON_IsString(a) && strstr(a->valuestring, arch))
            found = strdup(dirs[i]);
        cJSON_Delete(cfg);
    }
    cf_test_free_list(dirs, n);
    cr_assert(found, "no %s fixture with architecture *%s*", family, arch);
    return found;
}

static void expect_error(const char *task, const char *dir, const char *payload, cf_status want, const char *needle)
{
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
    cr_expect_eq(s, want, "%s %s: status %s (%s)", task, payload, cf_status_name(s), err.message);
    cr_expect(strstr(err.message, needle) != NULL, "%s %s: message '%s' should mention '%s'", task, payload,
              err.message, needle);
    free(out);
}

Test(seq2seq_pipelines, bad_calls_name_the_problem)
{
    char *sum = case_with_arch("bart", "ConditionalGeneration"), *mt = case_with_arch("marian", "MTModel");
    char *nli = case_with_arch("bart", "SequenceClassification");
    expect_error("summarization", sum, "{\"inputs\": \"x\", \"parameters\": {\"max_lenght\": 5}}", CF_ERR_INVALID_ARG,
                 "max_lenght");
    expect_error("summarization", sum, "{\"inputs\": \"x\", \"parameters\": {\"num_beams\": \"four\"}}",
                 CF_ERR_INVALID_ARG, "num_beams");
    expect_error("summarization", sum, "{\"inputs\": 7}", CF_ERR_INVALID_ARG, "inputs");
    expect_error("summarization", sum, "{\"inputs\": [\"a\", 3]}", CF_ERR_INVALID_ARG, "inputs");
    expect_error("translation_en_to_mg", mt, "{\"inputs\": \"x\", \"parameters\": {\"tgt_lang\": 3}}",
                 CF_ERR_INVALID_ARG, "tgt_lang");
    /* longer than max_position_embeddings, untruncated (Python fails too) */
    char long_text[8192] = "{\"inputs\": \"";
    for (int i = 0; i < 300; i++)
        strcat(long_text, "word ");
    strcat(long_text, "\"}");
    expect_error("summarization", sum, long_text, CF_ERR_INVALID_ARG, "max_position_embeddings");
    /* the classifier reads the hidden state at </s>: without special tokens there is none */
    expect_error("text-classification", nli, "{\"inputs\": \"x\", \"parameters\": {\"add_special_tokens\": false}}",
                 CF_ERR_INVALID_ARG, "</s>");
    free(sum);
    free(mt);
    free(nli);
}

Test(seq2seq_pipelines, task_names_and_models)
{
    cr_expect_eq(cf_task_find("translation_en_to_de"), cf_task_find("translation"));
    cr_expect_eq(cf_task_find("translation_xx_to_yy"), cf_task_find("translation"));
    cr_expect_null(cf_task_find("translation_en"));
    char *bert = case_with_arch("bert", "ForSequenceClassification");
    expect_error("summarization", bert, "{\"inputs\": \"x\"}", CF_ERR_UNSUPPORTED, "model_type");
    free(bert);
}

Test(seq2seq_pipelines, long_text_truncated_on_request)
{
    char *sum = case_with_arch("bart", "ConditionalGeneration");
    char payload[8192] = "{\"inputs\": \"";
    for (int i = 0; i < 300; i++)
        strcat(payload, "word ");
    strcat(payload, "\", \"parameters\": {\"truncation\": true, \"max_length\": 8}}");
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once("summarization", sum, NULL, payload, &out, &err);
    /* the tokenizer's model_max_length may exceed the tiny model's positions: then the error says so */
    cr_expect(s == CF_OK || strstr(err.message, "max_position_embeddings"), "%s", err.message);
    if (s == CF_OK)
        cr_expect(strstr(out, "summary_text") != NULL, "%s", out);
    free(out);
    free(sum);
}
