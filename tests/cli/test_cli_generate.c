/* The offline default of text-generation through the binary: no -m, no gpt2 in the (empty)
 * HF cache, so the bundled models/stories260k runs; --json prints exactly the fixture's
 * max_new_tokens-200 output, and the flags form streams the story as plain text. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "common/testutil.h"

static char *run_cli(const char *args, char *err_out, size_t err_size)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "HF_HUB_CACHE=/nonexistent-cformer-test CFORMER_MODELS_DIR= %s %s 2>/tmp/cf_cli_gen_err.txt",
             CF_CLI_PATH, args);
    FILE *f = popen(cmd, "r");
    cr_assert(f, "cannot run %s", cmd);
    cf_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cf_buf_append(&b, chunk, n);
    cr_expect_eq(pclose(f), 0, "%s failed", cmd);
    FILE *e = fopen("/tmp/cf_cli_gen_err.txt", "r");
    size_t got = e ? fread(err_out, 1, err_size - 1, e) : 0;
    err_out[got] = '\0';
    if (e)
        fclose(e);
    return b.data ? cf_buf_steal(&b) : strdup("");
}

/* The stories260k call with only max_new_tokens 200 (what generation_config.json asks for). */
static const cJSON *default_call_output(cJSON *exp)
{
    for (const cJSON *c = cJSON_GetObjectItem(exp, "calls")->child; c; c = c->next) {
        const cJSON *kw = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "call"), "kwargs");
        const cJSON *mnt = cJSON_GetObjectItem(kw, "max_new_tokens");
        if (cJSON_IsNumber(mnt) && mnt->valueint == 200 && cJSON_GetArraySize(kw) <= 2)
            return cJSON_GetObjectItem(c, "output");
    }
    return NULL;
}

Test(cli_generate, offline_default_json_matches_fixture)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/llama/stories260k/expected.json", cf_test_fixtures());
    cJSON *exp = cf_test_read_json(path);
    cr_assert(exp);
    const cJSON *want = default_call_output(exp);
    cr_assert(want, "no max_new_tokens 200 call in %s", path);
    cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(exp, "calls")->child,
                                                                           "call"), "args"), 0);
    char args[1024], err[4096];
    snprintf(args, sizeof args, "run text-generation --json '{\"inputs\": \"%s\"}'", in->valuestring);
    char *out = run_cli(args, err, sizeof err);
    cJSON *got = cJSON_Parse(out);
    cr_expect(cJSON_Compare(got, want, true), "got %s", out);
    cr_expect(strstr(err, "stories260k") != NULL, "stderr does not say which model: %s", err);
    cJSON_Delete(got);
    free(out);
    cJSON_Delete(exp);
}

Test(cli_generate, flags_form_streams_text)
{
    char err[4096];
    char *out = run_cli("run text-generation \"Once upon a time\" --max-new-tokens 20", err, sizeof err);
    cr_expect(!strncmp(out, "Once upon a time", 16), "output does not start with the prompt: %s", out);
    cr_expect(strlen(out) > 30 && out[0] != '[', "expected plain streamed text, got %s", out);
    free(out);
}
