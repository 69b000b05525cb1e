/* `cformer run` on a Hub id that is not in the cache, against the mock Hub (tests/mockhub) serving
 * a fixture folder on 127.0.0.1: without --pull it fails and says how to get the model (`cformer
 * pull`, --pull); with --pull, or CFORMER_AUTO_PULL=1, it downloads the model and prints exactly
 * what the same run on the fixture folder prints. The folder is the first walked
 * bert/distilbert/roberta case with a recorded text-classification call. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_exec.h"
#include "common/testutil.h"
#include "mockhub/mockhub_launch.h"

#define REPO "cformer-test/tiny-classifier"

static mockhub g_hub;
static char g_cache[64], g_folder[4200], g_text[1024];
static char g_env_endpoint[128], g_env_cache[128];

static bool has_call(const cJSON *exp, const char *task, const char **text)
{
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItem(exp, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(entry, "call");
        const cJSON *arg = cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0);
        if (!strcmp(cJSON_GetObjectItem(call, "task")->valuestring, task) && cJSON_IsString(arg)) {
            *text = arg->valuestring;
            return true;
        }
    }
    return false;
}

static bool find_classifier(void)
{
    static const char *const families[] = {"bert", "distilbert", "roberta"};
    for (size_t f = 0; f < 3; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(families[f], "expected.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            char path[4300];
            snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
            cJSON *exp = cf_test_read_json(path);
            const char *text = NULL;
            bool hit = has_call(exp, "text-classification", &text);
            if (hit) {
                snprintf(g_folder, sizeof g_folder, "%s", dirs[i]);
                snprintf(g_text, sizeof g_text, "%s", text);
            }
            cJSON_Delete(exp);
            if (hit) {
                cf_test_free_list(dirs, n);
                return true;
            }
        }
        cf_test_free_list(dirs, n);
    }
    return false;
}

static void setup(void)
{
    cr_assert(find_classifier(), "no text-classification fixture under %s", cf_test_fixtures());
    snprintf(g_cache, sizeof g_cache, "/tmp/cf_cli_pull_XXXXXX");
    cr_assert(mkdtemp(g_cache));
    char repo_arg[4400];
    snprintf(repo_arg, sizeof repo_arg, "%s=%s", REPO, g_folder);
    cr_assert(mockhub_start(&g_hub, (const char *[]){"--repo", repo_arg, NULL}), "the mock Hub did not start");
    snprintf(g_env_endpoint, sizeof g_env_endpoint, "HF_ENDPOINT=%s", g_hub.endpoint);
    snprintf(g_env_cache, sizeof g_env_cache, "HF_HUB_CACHE=%s", g_cache);
}

static void teardown(void)
{
    mockhub_stop(&g_hub);
    mockhub_rmtree(g_cache);
}

TestSuite(cli_pull, .init = setup, .fini = teardown, .timeout = 120);

static cli_result run_id(bool pull, const char *auto_pull)
{
    const char *env[] = {g_env_endpoint, g_env_cache, "HF_HUB_DISABLE_PROGRESS_BARS=1", "HF_TOKEN=", auto_pull,
                         NULL};
    const char *args[] = {"run", "text-classification", "-m", REPO, g_text, pull ? "--pull" : NULL, NULL};
    return cli_run(args, env);
}

static char *folder_output(void)
{
    cli_result r = cli_run((const char *const[]){"run", "text-classification", "-m", g_folder, g_text, NULL}, NULL);
    cr_assert_eq(r.status, 0, "run on the folder failed: %s", r.err);
    free(r.err);
    return r.out;
}

Test(cli_pull, missing_model_without_pull_says_how_to_get_it)
{
    cli_result r = run_id(false, "CFORMER_AUTO_PULL=0");
    cr_expect_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "cformer pull " REPO) != NULL, "no `cformer pull` hint: %s", r.err);
    cr_expect(strstr(r.err, "--pull") != NULL, "no --pull hint: %s", r.err);
    cr_expect_str_empty(r.out);
    cr_expect_eq(mockhub_count(&g_hub, (const char *[]){"method", NULL}), 0, "the Hub was contacted");
    cli_free(&r);
}

Test(cli_pull, pull_flag_downloads_then_runs)
{
    char *want = folder_output();
    cli_result r = run_id(true, "CFORMER_AUTO_PULL=0");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, want);
    cli_free(&r);
    /* now cached: a second run needs neither --pull nor the network */
    int requests = mockhub_count(&g_hub, (const char *[]){"method", NULL});
    r = run_id(false, "CFORMER_AUTO_PULL=0");
    cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, want);
    cr_expect_eq(mockhub_count(&g_hub, (const char *[]){"method", NULL}), requests);
    cli_free(&r);
    free(want);
}

Test(cli_pull, auto_pull_environment_downloads)
{
    char *want = folder_output();
    cli_result r = run_id(false, "CFORMER_AUTO_PULL=1");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_str_eq(r.out, want);
    cli_free(&r);
    free(want);
}
