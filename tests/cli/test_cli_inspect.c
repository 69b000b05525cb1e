/* `cformer inspect --json` on every fixture folder holding config.json + model.safetensors (the
 * whole fixture tree walked): exit 0 and a tensor count equal to the number of entries in the
 * safetensors header (read here directly: u64 little-endian length, then the JSON header).
 * A missing folder exits 1, no arguments exit 2. */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_exec.h"
#include "common/testutil.h"

/* Entries of the safetensors header, without "__metadata__"; -1 when unreadable. */
static int header_tensor_count(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t len_bytes[8];
    int count = -1;
    if (fread(len_bytes, 1, 8, f) == 8) {
        uint64_t len = 0;
        for (int i = 7; i >= 0; i--)
            len = len << 8 | len_bytes[i];
        char *text = len < (1u << 30) ? malloc(len + 1) : NULL;
        if (text && fread(text, 1, len, f) == len) {
            text[len] = '\0';
            cJSON *h = cJSON_Parse(text);
            if (cJSON_IsObject(h)) {
                count = cJSON_GetArraySize(h);
                if (cJSON_GetObjectItemCaseSensitive(h, "__metadata__"))
                    count--;
            }
            cJSON_Delete(h);
        }
        free(text);
    }
    fclose(f);
    return count;
}

static int g_folders;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag != FTW_D)
        return 0;
    char cfg[4200], weights[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    snprintf(weights, sizeof weights, "%s/model.safetensors", path);
    if (!cf_file_exists(cfg) || !cf_file_exists(weights))
        return 0;
    int want = header_tensor_count(weights);
    cr_assert_geq(want, 0, "%s: cannot read the safetensors header", weights);
    cli_result r = cli_run((const char *const[]){"inspect", "--json", path, NULL}, NULL);
    cr_expect_eq(r.status, 0, "inspect %s exited %d: %s", path, r.status, r.err);
    cJSON *out = cJSON_Parse(r.out);
    cr_expect(out, "inspect %s: not JSON: %.200s", path, r.out);
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(out, "tensors");
    cr_expect(cJSON_IsNumber(tensors) && tensors->valueint == want, "inspect %s: %d tensors, the header has %d",
              path, cJSON_IsNumber(tensors) ? tensors->valueint : -1, want);
    cJSON_Delete(out);
    cli_free(&r);
    g_folders++;
    return 0;
}

Test(cli_inspect, json_tensor_count_matches_every_fixture_header)
{
    g_folders = 0;
    cr_assert_eq(nftw(cf_test_fixtures(), visit, 32, FTW_PHYS), 0, "cannot walk %s", cf_test_fixtures());
    cr_assert_gt(g_folders, 0, "no folder with config.json + model.safetensors under %s", cf_test_fixtures());
}

Test(cli_inspect, missing_folder_exits_1)
{
    cli_result r = cli_run((const char *const[]){"inspect", "--json", "/nonexistent/cformer-model", NULL}, NULL);
    cr_expect_eq(r.status, 1, "exit %d", r.status);
    cr_expect(strstr(r.err, "/nonexistent/cformer-model") != NULL, "message does not name the path: %s", r.err);
    cli_free(&r);
}

Test(cli_inspect, no_arguments_exit_2)
{
    cli_result r = cli_run((const char *const[]){"inspect", NULL}, NULL);
    cr_expect_eq(r.status, 2, "exit %d", r.status);
    cr_expect(strstr(r.err, "usage") != NULL, "no usage text: %s", r.err);
    cli_free(&r);
}
