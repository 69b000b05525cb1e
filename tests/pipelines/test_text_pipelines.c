/* The six text pipelines against the Python reference: every `calls` entry of every case's
 * expected.json under fixtures/{bert,distilbert,roberta} is replayed through
 * cf_pipeline_run_once, the function `cformer run TASK -m DIR --json PAYLOAD` calls, with
 * PAYLOAD = {"inputs": args[0], "parameters": kwargs} (question-answering: inputs =
 * {"question", "context"}; zero-shot: a second positional argument is candidate_labels).
 * Tolerances: labels, words, offsets, token ids and strings exact; scores within 1e-5
 * absolute; feature vectors within 1e-4 + 1e-4 * |want| (NOTE.md). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_compare.h"
#include "common/replay.h"
#include "common/testutil.h"
#include "pipelines/pipeline.h"

static const cf_json_tolerance k_tol = {.score_atol = 1e-5, .value_atol = 1e-4, .value_rtol = 1e-4};
static const char *const k_families[] = {"bert", "distilbert", "roberta"};

Test(text_pipelines, every_recorded_call)
{
    cf_test_tally t = {0};
    for (size_t f = 0; f < sizeof k_families / sizeof k_families[0]; f++)
        cf_test_replay_family(k_families[f], &k_tol, &t);
    cr_log_info("%zu cases, %zu of %zu calls match", t.cases, t.passed, t.calls);
    cr_assert_gt(t.calls, 0, "no recorded pipeline calls under %s", cf_test_fixtures());
    cr_expect_eq(t.passed, t.calls);
}

/* ---- the framework: task names, payload errors ---- */

/* A model folder of the fixtures whose config says `arch_suffix`. */
static char *case_with_arch(const char *arch_suffix)
{
    for (size_t f = 0; f < sizeof k_families / sizeof k_families[0]; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(k_families[f], "config.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/config.json", dirs[i]);
            cJSON *cfg = cf_test_read_json(path);
            const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
            bool hit = cJSON_IsString(arch) && strstr(arch->valuestring, arch_suffix);
            cJSON_Delete(cfg);
            if (hit) {
                char *dir = strdup(dirs[i]);
                cf_test_free_list(dirs, n);
                return dir;
            }
        }
        cf_test_free_list(dirs, n);
    }
    cr_assert_fail("no fixture model with architecture *%s", arch_suffix);
    return NULL;
}

static void expect_invalid(const char *task, const char *dir, const char *payload, const char *needle)
{
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
    cr_expect_eq(s, CF_ERR_INVALID_ARG, "%s %s: status %s", task, payload, cf_status_name(s));
    cr_expect(strstr(err.message, needle) != NULL, "%s: message '%s' should mention '%s'", payload, err.message,
              needle);
    free(out);
}

Test(text_pipelines, aliases_resolve)
{
    cr_expect_eq(cf_task_find("sentiment-analysis"), cf_task_find("text-classification"));
    cr_expect_eq(cf_task_find("ner"), cf_task_find("token-classification"));
    cr_expect_null(cf_task_find("no-such-task"));
}

Test(text_pipelines, bad_payloads_name_the_problem)
{
    char *dir = case_with_arch("ForSequenceClassification");
    const char *t = "text-classification";
    expect_invalid(t, dir, "{\"inputs\": \"x\"", "not valid JSON");
    expect_invalid(t, dir, "[1, 2]", "JSON object");
    expect_invalid(t, dir, "{\"parameters\": {}}", "inputs");
    expect_invalid(t, dir, "{\"inputs\": \"x\", \"parameters\": {\"topk_typo\": 1}}", "topk_typo");
    expect_invalid(t, dir, "{\"inputs\": \"x\", \"parameters\": {\"top_k\": \"three\"}}", "top_k");
    expect_invalid(t, dir, "{\"inputs\": \"x\", \"parameters\": {\"top_k\": 0}}", "top_k");
    expect_invalid(t, dir, "{\"inputs\": 42}", "inputs");
    expect_invalid(t, dir, "{\"inputs\": \"x\", \"extra\": 1}", "extra");
    expect_invalid(t, dir, "{\"inputs\": \"\xff\xfe\"}", "UTF-8");
    expect_invalid(t, dir, "{\"inputs\": \"x\", \"parameters\": {\"function_to_apply\": \"cube\"}}",
                   "function_to_apply");
    expect_invalid("no-such-task", dir, "{\"inputs\": \"x\"}", "no-such-task");
    free(dir);
}

Test(text_pipelines, task_specific_errors)
{
    char *qa = case_with_arch("ForQuestionAnswering");
    expect_invalid("question-answering", qa, "{\"inputs\": \"just text\"}", "question");
    expect_invalid("question-answering", qa, "{\"inputs\": {\"question\": \"\", \"context\": \"c\"}}", "question");
    expect_invalid("question-answering", qa,
                   "{\"inputs\": {\"question\": \"q\", \"context\": \"c\"}, \"parameters\": {\"doc_stride\": 500, "
                   "\"max_seq_len\": 64}}",
                   "doc_stride");
    free(qa);
    char *mlm = case_with_arch("ForMaskedLM");
    expect_invalid("fill-mask", mlm, "{\"inputs\": \"no mask here\"}", "mask");
    free(mlm);
    char *zs = case_with_arch("ForSequenceClassification");
    expect_invalid("zero-shot-classification", zs, "{\"inputs\": \"x\"}", "candidate_labels");
    expect_invalid("zero-shot-classification", zs,
                   "{\"inputs\": \"x\", \"parameters\": {\"candidate_labels\": [\"a\"], \"hypothesis_template\": "
                   "\"no slot\"}}",
                   "hypothesis_template");
    free(zs);
    char *ner = case_with_arch("ForTokenClassification");
    expect_invalid("ner", ner, "{\"inputs\": \"x\", \"parameters\": {\"aggregation_strategy\": \"median\"}}",
                   "aggregation_strategy");
    free(ner);
}

typedef struct thread_job {
    cf_pipeline *p;
    const char *want;
    int same;
} thread_job;

/* ---- question-answering input forms (transformers' QuestionAnsweringArgumentHandler) ---- */

static cJSON *run_json(const char *task, const char *dir, const char *payload)
{
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
    cr_assert_eq(s, CF_OK, "%s: %s", payload, err.message);
    cJSON *v = cJSON_Parse(out);
    cr_assert_not_null(v, "output is not JSON: %s", out);
    free(out);
    return v;
}

static const char *const k_questions[] = {"Where do I live?", "What is my name?"};
static const char *const k_contexts[] = {"My name is Wolfgang and I live in Berlin.",
                                         "Sarah lives in London and works as a doctor."};

/* The answer for one (question, context) pair, as a single call gives it. */
static cJSON *single_answer(const char *dir, const char *question, const char *context, int top_k)
{
    char payload[1024];
    snprintf(payload, sizeof payload,
             "{\"inputs\": {\"question\": \"%s\", \"context\": \"%s\"}, \"parameters\": {\"top_k\": %d}}", question,
             context, top_k);
    return run_json("question-answering", dir, payload);
}

/* `got` is a list whose item i is the single-call answer for (questions[qi[i]], contexts[ci[i]]); exact. */
static void expect_items_match_singles(const char *dir, const cJSON *got, const int *qi, const int *ci, int n,
                                       int top_k)
{
    cr_assert(cJSON_IsArray(got), "a list input gives a list");
    cr_assert_eq(cJSON_GetArraySize(got), n);
    for (int i = 0; i < n; i++) {
        cJSON *want = single_answer(dir, k_questions[qi[i]], k_contexts[ci[i]], top_k);
        const cJSON *item = cJSON_GetArrayItem(got, i);
        cr_expect(top_k > 1 ? cJSON_IsArray(item) : cJSON_IsObject(item), "item %d has the wrong shape", i);
        cr_expect(cJSON_Compare(item, want, true), "item %d differs from the single call", i);
        cJSON_Delete(want);
    }
}

Test(text_pipelines, qa_question_and_context_lists_pair_item_by_item)
{
    char *dir = case_with_arch("ForQuestionAnswering");
    char payload[1024];
    for (int top_k = 1; top_k <= 2; top_k++) {
        snprintf(payload, sizeof payload,
                 "{\"inputs\": {\"question\": [\"%s\", \"%s\"], \"context\": [\"%s\", \"%s\"]}, "
                 "\"parameters\": {\"top_k\": %d}}",
                 k_questions[0], k_questions[1], k_contexts[0], k_contexts[1], top_k);
        cJSON *got = run_json("question-answering", dir, payload);
        expect_items_match_singles(dir, got, (const int[]){0, 1}, (const int[]){0, 1}, 2, top_k);
        cJSON_Delete(got);
    }
    /* a list of questions with one context string asks each question of that context */
    snprintf(payload, sizeof payload, "{\"inputs\": {\"question\": [\"%s\", \"%s\"], \"context\": \"%s\"}}",
             k_questions[0], k_questions[1], k_contexts[1]);
    cJSON *got = run_json("question-answering", dir, payload);
    expect_items_match_singles(dir, got, (const int[]){0, 1}, (const int[]){1, 1}, 2, 1);
    cJSON_Delete(got);
    free(dir);
}

Test(text_pipelines, qa_list_of_dicts_answers_each)
{
    char *dir = case_with_arch("ForQuestionAnswering");
    char payload[1024];
    snprintf(payload, sizeof payload,
             "{\"inputs\": [{\"question\": \"%s\", \"context\": \"%s\"}, {\"question\": \"%s\", \"context\": \"%s\"}], "
             "\"parameters\": {\"top_k\": 2}}",
             k_questions[1], k_contexts[0], k_questions[0], k_contexts[1]);
    cJSON *got = run_json("question-answering", dir, payload);
    expect_items_match_singles(dir, got, (const int[]){1, 0}, (const int[]){0, 1}, 2, 2);
    cJSON_Delete(got);
    /* as the Python pipeline, a one-item list answers unwrapped */
    snprintf(payload, sizeof payload, "{\"inputs\": {\"question\": [\"%s\"], \"context\": [\"%s\"]}}", k_questions[0],
             k_contexts[0]);
    got = run_json("question-answering", dir, payload);
    cJSON *want = single_answer(dir, k_questions[0], k_contexts[0], 1);
    cr_expect(cJSON_IsObject(got) && cJSON_Compare(got, want, true), "one-item list differs from the single call");
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(dir);
}

Test(text_pipelines, qa_mismatched_lists_name_the_keys)
{
    char *dir = case_with_arch("ForQuestionAnswering");
    expect_invalid("question-answering", dir, "{\"inputs\": {\"question\": [\"a?\", \"b?\"], \"context\": [\"c\"]}}",
                   "inputs.question has 2 items but inputs.context has 1");
    expect_invalid("question-answering", dir, "{\"inputs\": {\"question\": \"a?\", \"context\": [\"c\", \"d\"]}}",
                   "inputs.context is a list");
    expect_invalid("question-answering", dir, "{\"inputs\": {\"question\": [\"a?\"], \"context\": 3}}",
                   "inputs.context is a number");
    expect_invalid("question-answering", dir, "{\"inputs\": {\"question\": [\"a?\", 7], \"context\": \"c\"}}",
                   "inputs.question");
    free(dir);
}

static void *run_repeatedly(void *arg)
{
    thread_job *job = arg;
    for (int i = 0; i < 4; i++) {
        cf_result *r = NULL;
        cf_error e = {0};
        if (cf_pipeline_run(job->p, "{\"inputs\": \"I love this\"}", &r, &e) == CF_OK)
            job->same += !strcmp(cf_result_json(r), job->want);
        cf_result_free(r);
    }
    return NULL;
}

Test(text_pipelines, one_pipeline_many_threads)
{
    char *cls = case_with_arch("ForSequenceClassification");
    cf_pipeline *p = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_open("sentiment-analysis", cls, NULL, &p, &err), CF_OK, "%s", err.message);
    cr_expect_str_eq(cf_pipeline_task(p), "text-classification");
    cf_result *r = NULL;
    cr_assert_eq(cf_pipeline_run(p, "{\"inputs\": \"I love this\"}", &r, &err), CF_OK, "%s", err.message);
    char *first = strdup(cf_result_json(r));
    cf_result_free(r);
    thread_job jobs[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){.p = p, .want = first};
        pthread_create(&threads[i], NULL, run_repeatedly, &jobs[i]);
    }
    int same = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        same += jobs[i].same;
    }
    cr_expect_eq(same, 16, "every concurrent run gives the single-thread result");
    free(first);
    cf_pipeline_free(p);
    free(cls);
}
