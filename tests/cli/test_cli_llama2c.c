/* llama2.c files straight from the CLI: for every fixtures/llama/<case>/ holding a llama2.c
 * checkpoint (*.bin) and its tokenizer (tok*.bin), `cformer run text-generation -m CKPT.bin
 * --tokenizer TOK.bin` prints exactly what the converted folder prints, greedy, for the prompt
 * of each recorded call; the flags form streams the same story; a checkpoint without a tokenizer
 * is a usage error that says what to add. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_exec.h"
#include "common/testutil.h"

/* The checkpoint and tokenizer .bin files of dir; false when it has not both. */
static bool llama2c_files(const char *dir, char *ckpt, char *tok, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    ckpt[0] = tok[0] = '\0';
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".bin"))
            continue;
        snprintf(!strncmp(e->d_name, "tok", 3) ? tok : ckpt, size, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return ckpt[0] && tok[0];
}

static char *greedy(const char *model, const char *tok, const char *prompt)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "inputs", prompt);
    cJSON *params = cJSON_AddObjectToObject(body, "parameters");
    cJSON_AddNumberToObject(params, "max_new_tokens", 60);
    cJSON_AddBoolToObject(params, "do_sample", false);
    char *payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    const char *args[] = {"run", "text-generation", "-m", model, "--json", payload, tok ? "--tokenizer" : NULL, tok,
                          NULL};
    cli_result r = cli_run(args, NULL);
    cr_assert_eq(r.status, 0, "-m %s exited %d: %s", model, r.status, r.err);
    cr_assert(strstr(r.out, "generated_text"), "%s", r.out);
    free(payload);
    free(r.err);
    return r.out;
}

Test(cli_llama2c, checkpoint_and_tokenizer_bin_equal_the_folder)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("llama", "expected.json", &dirs), compared = 0;
    for (size_t i = 0; i < n; i++) {
        char ckpt[4300], tok[4300], path[4300];
        if (!llama2c_files(dirs[i], ckpt, tok, sizeof ckpt))
            continue;
        snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
        cJSON *exp = cf_test_read_json(path);
        const cJSON *entry;
        cJSON_ArrayForEach(entry, cJSON_GetObjectItem(exp, "calls"))
        {
            const cJSON *arg = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "args"), 0);
            if (!cJSON_IsString(arg))
                continue;
            char *want = greedy(dirs[i], NULL, arg->valuestring);
            char *got = greedy(ckpt, tok, arg->valuestring);
            cr_expect_str_eq(got, want, "prompt %s", arg->valuestring);
            free(want);
            free(got);
            compared++;
        }
        cJSON_Delete(exp);
    }
    cf_test_free_list(dirs, n);
    cr_assert_gt(compared, 0, "no fixtures/llama case with llama2.c files under %s", cf_test_fixtures());
}

Test(cli_llama2c, flags_form_streams_and_needs_the_tokenizer)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("llama", "expected.json", &dirs);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        char ckpt[4300], tok[4300];
        if (!(found = llama2c_files(dirs[i], ckpt, tok, sizeof ckpt)))
            continue;
        cli_result r = cli_run((const char *const[]){"run", "text-generation", "-m", ckpt, "--tokenizer", tok,
                                                     "--max-new-tokens", "30", "Once upon a time", NULL},
                               NULL);
        cr_expect_eq(r.status, 0, "%s", r.err);
        cr_expect(!strncmp(r.out, "Once upon a time", 16) && strlen(r.out) > 40, "got %s", r.out);
        cli_free(&r);
        r = cli_run((const char *const[]){"run", "text-generation", "-m", ckpt, "Once upon a time", NULL}, NULL);
        cr_expect_eq(r.status, 2, "exit %d", r.status);
        cr_expect(strstr(r.err, "--tokenizer") != NULL, "message does not say to give --tokenizer: %s", r.err);
        cli_free(&r);
        r = cli_run((const char *const[]){"run", "text-generation", "-m", ckpt, "--tokenizer", "/nonexistent/tok.bin",
                                          "Once", NULL},
                    NULL);
        cr_expect_neq(r.status, 0);
        cr_expect(strstr(r.err, "/nonexistent/tok.bin") != NULL, "%s", r.err);
        cli_free(&r);
    }
    cf_test_free_list(dirs, n);
    cr_assert(found, "no fixtures/llama case with llama2.c files");
}
