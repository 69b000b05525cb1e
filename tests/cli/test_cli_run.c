/* `cformer run` as a user runs it: the built binary (CF_CLI_PATH) in both forms, on the
 * fixture models, and on bad payloads (the .json files of tests/data/bad/payloads) that must exit 2 with
 * a message. Outputs are compared with the Python reference like the pipeline tests (scores
 * within 1e-5, everything else exact). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/json_compare.h"
#include "common/testutil.h"
#include "core/buf.h"

static const cf_json_tolerance k_tol = {.score_atol = 1e-5, .value_atol = 1e-4, .value_rtol = 1e-4};

typedef struct run_result {
    int status;
    char *out, *err;
} run_result;

static char *slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cf_error e = {0};
    if (cf_read_file(path, (size_t)1 << 28, &text, &len, &e) != CF_OK)
        return strdup("");
    return text;
}

/* Run cformer with argv (NULL-terminated, without the program), stdin from `input` (may be
 * NULL), extra environment assignment `env` (may be NULL). */
static run_result run_cli(const char *const *args, const char *input, size_t input_len, const char *env)
{
    char in_path[] = "/tmp/cf_cli_in_XXXXXX", out_path[] = "/tmp/cf_cli_out_XXXXXX",
         err_path[] = "/tmp/cf_cli_err_XXXXXX";
    int fin = mkstemp(in_path), fout = mkstemp(out_path), ferr = mkstemp(err_path);
    cr_assert(fin >= 0 && fout >= 0 && ferr >= 0);
    if (input)
        cr_assert_eq(write(fin, input, input_len), (ssize_t)input_len);
    lseek(fin, 0, SEEK_SET);
    const char *argv[32] = {CF_CLI_PATH};
    size_t n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        if (env)
            putenv((char *)env);
        execv(CF_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fin);
    close(fout);
    close(ferr);
    run_result r = {.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    unlink(in_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

static void free_result(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* A fixture case folder whose config's architecture contains `arch`, and its expected.json. */
static char *case_with_arch(const char *arch, cJSON **expected)
{
    static const char *const families[] = {"bert", "distilbert", "roberta"};
    for (size_t f = 0; f < 3; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(families[f], "expected.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/config.json", dirs[i]);
            cJSON *cfg = cf_test_read_json(path);
            const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
            bool hit = cJSON_IsString(a) && strstr(a->valuestring, arch);
            cJSON_Delete(cfg);
            if (hit) {
                char *dir = strdup(dirs[i]);
                snprintf(path, sizeof path, "%s/expected.json", dir);
                *expected = cf_test_read_json(path);
                cf_test_free_list(dirs, n);
                return dir;
            }
        }
        cf_test_free_list(dirs, n);
    }
    cr_assert_fail("no fixture case with architecture *%s", arch);
    return NULL;
}

/* The first recorded call of `task` in expected.json (NULL if none). */
static const cJSON *recorded_call(const cJSON *expected, const char *task, const char *kwarg)
{
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(entry, "call");
        if (!strcmp(cJSON_GetObjectItem(call, "task")->valuestring, task) &&
            (!kwarg ? cJSON_GetArraySize(cJSON_GetObjectItem(call, "kwargs")) == 0
                    : cJSON_GetObjectItem(cJSON_GetObjectItem(call, "kwargs"), kwarg) != NULL))
            return entry;
    }
    return NULL;
}

static void expect_output(const run_result *r, const cJSON *want, const char *what)
{
    cr_expect_eq(r->status, 0, "%s: exit %d, stderr: %s", what, r->status, r->err);
    cJSON *got = cJSON_Parse(r->out);
    cr_expect(got, "%s: stdout is not JSON: %s", what, r->out);
    char why[1024];
    cr_expect(got && cf_json_matches(got, want, &k_tol, why, sizeof why), "%s: %s", what, why);
    cJSON_Delete(got);
}

Test(cli_run, text_classification_both_forms)
{
    cJSON *expected = NULL;
    char *dir = case_with_arch("ForSequenceClassification", &expected);
    const cJSON *entry = recorded_call(expected, "text-classification", NULL);
    cr_assert(entry, "no default text-classification call recorded in %s", dir);
    const char *text = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "args"), 0)->valuestring;
    const cJSON *want = cJSON_GetObjectItem(entry, "output");

    const char *human[] = {"run", "sentiment-analysis", "-m", dir, text, NULL};
    run_result r = run_cli(human, NULL, 0, NULL);
    expect_output(&r, want, "flag form");
    free_result(&r);

    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "inputs", text);
    char *payload = cJSON_PrintUnformatted(body);
    const char *json_form[] = {"run", "text-classification", "-m", dir, "--json", payload, NULL};
    r = run_cli(json_form, NULL, 0, NULL);
    expect_output(&r, want, "--json form");
    free_result(&r);

    const char *stdin_form[] = {"run", "text-classification", "-m", dir, "--json", "-", NULL};
    r = run_cli(stdin_form, payload, strlen(payload), NULL);
    expect_output(&r, want, "--json - form");
    free_result(&r);

    cJSON_free(payload);
    cJSON_Delete(body);
    cJSON_Delete(expected);
    free(dir);
}

Test(cli_run, question_answering_flags)
{
    cJSON *expected = NULL;
    char *dir = case_with_arch("ForQuestionAnswering", &expected);
    const cJSON *entry = recorded_call(expected, "question-answering", "question");
    cr_assert(entry);
    const cJSON *kw = cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "kwargs");
    if (cJSON_GetArraySize(kw) == 2) {
        const char *args[] = {"run", "question-answering", "-m", dir, "--question",
                              cJSON_GetObjectItem(kw, "question")->valuestring, "--context",
                              cJSON_GetObjectItem(kw, "context")->valuestring, NULL};
        run_result r = run_cli(args, NULL, 0, NULL);
        expect_output(&r, cJSON_GetObjectItem(entry, "output"), "--question/--context");
        free_result(&r);
    }
    cJSON_Delete(expected);
    free(dir);
}

Test(cli_run, zero_shot_labels_flag)
{
    cJSON *expected = NULL;
    char *dir = case_with_arch("ForSequenceClassification", &expected);
    cJSON_Delete(expected);
    const char *args[] = {"run", "zero-shot-classification", "-m", dir, "--labels", "politics,public health",
                          "Who are you voting for?", NULL};
    run_result r = run_cli(args, NULL, 0, NULL);
    cr_expect_eq(r.status, 0, "stderr: %s", r.err);
    cJSON *got = cJSON_Parse(r.out);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(got, "labels")), 2, "stdout: %s", r.out);
    cJSON_Delete(got);
    free_result(&r);
    free(dir);
}

static void expect_usage_error(const char *const *args, const char *input, size_t len, const char *needle)
{
    run_result r = run_cli(args, input, len, NULL);
    cr_expect_eq(r.status, 2, "%s %s: exit %d (stderr: %s)", args[1], input ? input : "", r.status, r.err);
    cr_expect(strstr(r.err, needle) != NULL, "stderr should mention '%s': %s", needle, r.err);
    cr_expect_eq(strlen(r.out), 0, "nothing on stdout on error: %s", r.out);
    free_result(&r);
}

Test(cli_run, usage_errors_exit_2)
{
    cJSON *expected = NULL;
    char *dir = case_with_arch("ForSequenceClassification", &expected);
    cJSON_Delete(expected);
    const char *unknown_task[] = {"run", "text-clasification", "-m", dir, "hello", NULL};
    expect_usage_error(unknown_task, NULL, 0, "text-clasification");
    const char *unknown_param[] = {"run", "text-classification", "-m", dir, "--top-kk", "2", "hello", NULL};
    expect_usage_error(unknown_param, NULL, 0, "top_kk");
    const char *wrong_type[] = {"run", "text-classification", "-m", dir, "--top-k", "many", "hello", NULL};
    expect_usage_error(wrong_type, NULL, 0, "top_k");
    const char *no_input[] = {"run", "text-classification", "-m", dir, NULL};
    expect_usage_error(no_input, NULL, 0, "input");
    const char *stdin_json[] = {"run", "text-classification", "-m", dir, "--json", "-", NULL};
    expect_usage_error(stdin_json, "{\"inputs\": \"x\", \"parameters\": {\"top_k\": true}}", 46, "top_k");
    free(dir);
}

Test(cli_run, bad_payload_corpus_exit_2)
{
    cJSON *expected = NULL;
    char *dir = case_with_arch("ForSequenceClassification", &expected);
    cJSON_Delete(expected);
    char corpus[4200];
    snprintf(corpus, sizeof corpus, "%s/bad/payloads", cf_test_data());
    DIR *d = opendir(corpus);
    cr_assert(d, "no corpus at %s", corpus);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
        char *data = NULL;
        size_t size = 0;
        cf_error err = {0};
        cr_assert_eq(cf_read_file(path, 1 << 20, &data, &size, &err), CF_OK);
        const char *args[] = {"run", "text-classification", "-m", dir, "--json", "-", NULL};
        run_result r = run_cli(args, data, size, NULL);
        cr_expect_eq(r.status, 2, "%s: exit %d (stderr: %s)", e->d_name, r.status, r.err);
        cr_expect(strlen(r.err) > 0, "%s: no message", e->d_name);
        free_result(&r);
        free(data);
        n++;
    }
    closedir(d);
    cr_expect_gt(n, 0);
    free(dir);
}

Test(cli_run, hub_id_not_cached_says_where_and_how)
{
    char cache[] = "/tmp/cf_cli_cache_XXXXXX";
    cr_assert(mkdtemp(cache));
    char env[256];
    snprintf(env, sizeof env, "HF_HUB_CACHE=%s", cache);
    const char *args[] = {"run", "text-classification", "-m", "someone/not-downloaded", "hello", NULL};
    run_result r = run_cli(args, NULL, 0, env);
    cr_expect_neq(r.status, 0);
    cr_expect(strstr(r.err, "cformer pull") != NULL, "stderr: %s", r.err);
    cr_expect(strstr(r.err, cache) != NULL, "should say where it looked: %s", r.err);
    free_result(&r);
    rmdir(cache);
}
