/* llama2.c tokenizer files (tok512.bin & co.): the tokenizer read from the .bin must give the
 * ids and decodes of the folder's tokenizer.json on every case of the matching tokenizer fixture
 * (fixtures/tokenizers/<name>/cases.json for each fixtures/llama/<name>/ holding a tok*.bin), and
 * every malformed file in tests/data/bad/llama2c must be refused with a message naming it. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "common/testutil.h"
#include "core/buf.h"
#include "tokenizers/convert_llama2c.h"

/* The first tok*.bin file of dir, or false. */
static bool find_tok_bin(const char *dir, char *out, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (!strncmp(e->d_name, "tok", 3) && n > 4 && !strcmp(e->d_name + n - 4, ".bin")) {
            snprintf(out, size, "%s/%s", dir, e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static void expect_ids(const cf_encoding *enc, const cJSON *want, const char *what, const char *input)
{
    cr_expect_eq(enc->n, (size_t)cJSON_GetArraySize(want), "%s: %zu ids for %s, want %d", what, enc->n, input,
                 cJSON_GetArraySize(want));
    size_t i = 0;
    for (const cJSON *id = want ? want->child : NULL; id && i < enc->n; id = id->next, i++)
        cr_expect_eq(enc->ids[i], (int64_t)id->valuedouble, "%s: id %zu of %s is %lld, want %lld", what, i, input,
                     (long long)enc->ids[i], (long long)id->valuedouble);
}

static void expect_decode(const cf_tokenizer *tok, const cJSON *ids, int skip, const cJSON *want, const char *input)
{
    if (!cJSON_IsString(want))
        return;
    size_t n = (size_t)cJSON_GetArraySize(ids);
    int64_t *v = calloc(n ? n : 1, sizeof *v);
    size_t i = 0;
    for (const cJSON *id = ids->child; id; id = id->next)
        v[i++] = (int64_t)id->valuedouble;
    char *text = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_tokenizer_decode(tok, v, n, skip, &text, &err), CF_OK, "%s", err.message);
    cr_expect_str_eq(text, want->valuestring, "decode (skip_special %d) of %s", skip, input);
    free(text);
    free(v);
}

/* Every case: .bin tokenizer ids == reference ids == the folder tokenizer's ids; decodes equal. */
static size_t check_cases(const cf_tokenizer *bin_tok, const cf_tokenizer *json_tok, const cJSON *cases)
{
    size_t checked = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const cJSON *input = cJSON_GetObjectItem(c, "input"), *ids = cJSON_GetObjectItem(c, "ids");
        if (!cJSON_IsString(input) || !cJSON_IsArray(ids))
            continue;
        cf_encoding a = {0}, b = {0};
        cf_error err = {0};
        cr_assert_eq(cf_tokenizer_encode(bin_tok, input->valuestring, NULL, &a, &err), CF_OK, "%s", err.message);
        cr_assert_eq(cf_tokenizer_encode(json_tok, input->valuestring, NULL, &b, &err), CF_OK, "%s", err.message);
        expect_ids(&a, ids, "tok .bin", input->valuestring);
        expect_ids(&b, ids, "tokenizer.json", input->valuestring);
        expect_decode(bin_tok, ids, 0, cJSON_GetObjectItem(c, "decode"), input->valuestring);
        expect_decode(bin_tok, ids, 1, cJSON_GetObjectItem(c, "decode_skip_special"), input->valuestring);
        cf_encoding_free(&a);
        cf_encoding_free(&b);
        checked++;
    }
    return checked;
}

Test(llama2c_tokenizer, same_ids_as_tokenizer_json_on_every_case)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("llama", "tokenizer.json", &dirs), folders = 0;
    for (size_t i = 0; i < n; i++) {
        char bin[4200], cases_path[4200];
        if (!find_tok_bin(dirs[i], bin, sizeof bin))
            continue;
        const char *name = strrchr(dirs[i], '/') + 1;
        snprintf(cases_path, sizeof cases_path, "%s/tokenizers/%s/cases.json", cf_test_fixtures(), name);
        cr_assert(cf_file_exists(cases_path), "%s has %s but there is no %s", dirs[i], bin, cases_path);
        cJSON *doc = cf_test_read_json(cases_path);
        cf_tokenizer *bin_tok = NULL, *json_tok = NULL;
        cf_error err = {0};
        cr_assert_eq(cf_tokenizer_load_file(bin, &bin_tok, &err), CF_OK, "%s", err.message);
        cr_assert_eq(cf_tokenizer_load(dirs[i], &json_tok, &err), CF_OK, "%s", err.message);
        cr_expect_eq(cf_tokenizer_vocab_size(bin_tok), cf_tokenizer_vocab_size(json_tok));
        cr_expect_eq(cf_tokenizer_special_id(bin_tok, "bos_token"), cf_tokenizer_special_id(json_tok, "bos_token"));
        cr_expect_eq(cf_tokenizer_special_id(bin_tok, "eos_token"), cf_tokenizer_special_id(json_tok, "eos_token"));
        size_t checked = check_cases(bin_tok, json_tok, cJSON_GetObjectItem(doc, "cases"));
        cr_expect_gt(checked, 0, "%s: no cases", cases_path);
        cf_tokenizer_free(bin_tok);
        cf_tokenizer_free(json_tok);
        cJSON_Delete(doc);
        folders++;
    }
    cf_test_free_list(dirs, n);
    cr_assert_gt(folders, 0, "no fixtures/llama/<case>/tok*.bin found under %s", cf_test_fixtures());
}

Test(llama2c_tokenizer, load_file_takes_folders_and_tokenizer_json)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("llama", "tokenizer.json", &dirs);
    cr_assert_gt(n, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer.json", dirs[0]);
    cf_tokenizer *a = NULL, *b = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_tokenizer_load_file(dirs[0], &a, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_tokenizer_load_file(path, &b, &err), CF_OK, "%s", err.message);
    cr_expect_eq(cf_tokenizer_vocab_size(a), cf_tokenizer_vocab_size(b));
    cr_expect_str_eq(cf_tokenizer_special_token(b, "bos_token") ? cf_tokenizer_special_token(b, "bos_token") : "",
                     cf_tokenizer_special_token(a, "bos_token") ? cf_tokenizer_special_token(a, "bos_token") : "");
    cf_tokenizer_free(a);
    cf_tokenizer_free(b);
    cf_test_free_list(dirs, n);
    cr_expect_neq(cf_tokenizer_load_file("/nonexistent/tok.bin", &a, &err), CF_OK);
    cr_expect(strstr(err.message, "/nonexistent/tok.bin") != NULL, "%s", err.message);
}

Test(llama2c_tokenizer, bad_files_are_refused_with_their_name)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/bad/llama2c", cf_test_data());
    DIR *d = opendir(root);
    cr_assert(d, "cannot open %s", root);
    size_t count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".bin"))
            continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        cf_tokenizer *tok = NULL;
        cf_error err = {0};
        cf_status st = cf_tokenizer_load_file(path, &tok, &err);
        cr_expect_eq(st, CF_ERR_FORMAT, "%s: status %s (%s)", e->d_name, cf_status_name(st), err.message);
        cr_expect(strstr(err.message, e->d_name) != NULL, "%s: message does not name the file: %s", e->d_name,
                  err.message);
        cr_expect_null(tok);
        /* from memory too */
        char *data = NULL;
        size_t n = 0;
        cr_assert_eq(cf_read_file(path, 1 << 20, &data, &n, &err), CF_OK);
        cf_spm_model m;
        cr_expect_eq(cf_llama2c_tokenizer_parse((const uint8_t *)data, n, e->d_name, &m, &err), CF_ERR_FORMAT,
                     "%s parsed from memory", e->d_name);
        free(data);
        count++;
    }
    closedir(d);
    cr_assert_geq(count, 10, "only %zu bad files in %s", count, root);
}
