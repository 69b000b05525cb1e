/* `cformer run` on the t5 fixture cases in both forms: every recorded summarization /
 * translation_xx_to_yy call as --json PAYLOAD and as flags (--max-length 14 --num-beams 2 ... TEXT),
 * and text2text-generation on the flags form agreeing with its --json form. Texts exact. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/json_compare.h"
#include "common/testutil.h"
#include "core/buf.h"

static const cf_json_tolerance k_exact = {0};

/* Single-quoted for sh. */
static void quote(cf_buf *cmd, const char *arg)
{
    cf_buf_puts(cmd, " '");
    for (const char *c = arg; *c; c++)
        if (*c == '\'')
            cf_buf_puts(cmd, "'\\''");
        else
            cf_buf_append(cmd, c, 1);
    cf_buf_puts(cmd, "'");
}

/* stdout of `cformer args...` (exit status must be 0). */
static cJSON *run_cli(const char *const *args)
{
    cf_buf cmd = {0};
    cf_buf_puts(&cmd, CF_CLI_PATH);
    for (size_t i = 0; args[i]; i++)
        quote(&cmd, args[i]);
    FILE *f = popen(cmd.data, "r");
    cr_assert(f, "%s", cmd.data);
    char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    int status = pclose(f);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %d", cmd.data, status);
    cJSON *got = cJSON_Parse(out);
    cr_expect(got, "%s: not JSON: %s", cmd.data, out);
    cf_buf_free(&cmd);
    return got;
}

/* --max-length 14 style flags from a kwargs object. */
static size_t flags_of(const cJSON *kwargs, char store[][64], const char **args, size_t at)
{
    const cJSON *kw;
    size_t k = 0;
    cJSON_ArrayForEach(kw, kwargs)
    {
        snprintf(store[k], 64, "--%s", kw->string);
        for (char *c = store[k] + 2; *c; c++)
            *c = *c == '_' ? '-' : *c;
        args[at++] = store[k++];
        cJSON *value = cJSON_Duplicate(kw, true);
        char *text = cJSON_PrintUnformatted(value);
        snprintf(store[k], 64, "%s", text);
        free(text);
        cJSON_Delete(value);
        args[at++] = store[k++];
    }
    return at;
}

static void check(const char *what, const cJSON *got, const cJSON *want)
{
    char why[1024] = "";
    cr_expect(got && cf_json_matches(got, want, &k_exact, why, sizeof why), "%s: %s", what, why);
}

Test(cli_t5, recorded_calls_both_forms)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.json", &dirs), checked = 0;
    cr_assert_gt(n, 0, "no t5 fixture cases under %s", cf_test_fixtures());
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
        cJSON *expected = cf_test_read_json(path);
        const cJSON *entry;
        cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
        {
            const cJSON *call = cJSON_GetObjectItem(entry, "call");
            const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
            const cJSON *input = cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0);
            const cJSON *kwargs = cJSON_GetObjectItem(call, "kwargs");
            cJSON *body = cJSON_CreateObject();
            cJSON_AddItemToObject(body, "inputs", cJSON_Duplicate(input, true));
            cJSON_AddItemToObject(body, "parameters", cJSON_Duplicate(kwargs, true));
            char *payload = cJSON_PrintUnformatted(body);
            const char *json_args[] = {"run", task, "-m", dirs[i], "--json", payload, NULL};
            cJSON *got = run_cli(json_args);
            check(payload, got, cJSON_GetObjectItem(entry, "output"));
            cJSON_Delete(got);
            char store[32][64];
            const char *flag_args[48] = {"run", task, "-m", dirs[i]};
            size_t at = flags_of(kwargs, store, flag_args, 4);
            flag_args[at++] = input->valuestring;
            flag_args[at] = NULL;
            got = run_cli(flag_args);
            check(payload, got, cJSON_GetObjectItem(entry, "output"));
            cJSON_Delete(got);
            /* text2text-generation: the flags form says what the --json form says */
            const char *t2t_json[] = {"run", "text2text-generation", "-m", dirs[i], "--json", payload, NULL};
            flag_args[1] = "text2text-generation";
            cJSON *from_json = run_cli(t2t_json), *from_flags = run_cli(flag_args);
            check("text2text-generation flags vs --json", from_flags, from_json);
            cr_expect(cJSON_GetObjectItem(cJSON_GetArrayItem(from_json, 0), "generated_text"), "no generated_text");
            cJSON_Delete(from_json);
            cJSON_Delete(from_flags);
            free(payload);
            cJSON_Delete(body);
            checked++;
        }
        cJSON_Delete(expected);
    }
    cr_expect_gt(checked, 0, "no recorded calls");
    cf_test_free_list(dirs, n);
}
