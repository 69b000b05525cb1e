/* Bad input: malformed tokenizer files give clear errors, invalid UTF-8 names the byte
 * offset, and a huge single word is tokenized without quadratic blow-up. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cformer.h"
#include "common/testutil.h"
#include "core/buf.h"

/* Copies a bad file as tokenizer.json into a fresh folder and loads it. */
static cf_status load_as_tokenizer_json(const char *file, cf_error *err)
{
    char dir[] = "/tmp/cf_badtok_XXXXXX";
    cr_assert(mkdtemp(dir));
    char *text;
    size_t len;
    cf_error e2 = {0};
    cr_assert_eq(cf_read_file(file, 1 << 20, &text, &len, &e2), CF_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    cf_tokenizer *tok = NULL;
    cf_status st = cf_tokenizer_load(dir, &tok, err);
    cf_tokenizer_free(tok);
    remove(path);
    rmdir(dir);
    return st;
}

Test(tokenizer_bad_input, malformed_tokenizer_json_files_fail_cleanly)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/bad/tokenizer", cf_test_data());
    DIR *d = opendir(root);
    cr_assert(d, "missing %s", root);
    struct dirent *ent;
    size_t n = 0;
    while ((ent = readdir(d))) {
        if (!strstr(ent->d_name, ".json"))
            continue;
        char file[4400];
        snprintf(file, sizeof file, "%s/%s", root, ent->d_name);
        cf_error err = {0};
        cf_status st = load_as_tokenizer_json(file, &err);
        cr_expect_neq(st, CF_OK, "%s loaded but should fail", ent->d_name);
        cr_expect(strlen(err.message) > 10, "%s: error message too short: \"%s\"", ent->d_name, err.message);
        n++;
    }
    closedir(d);
    cr_expect(n >= 5, "expected bad tokenizer files, found %zu", n);
}

static cf_tokenizer *fixture_tokenizer(const char *name)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tokenizers/%s", cf_test_fixtures(), name);
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    if (cf_tokenizer_load(dir, &tok, &err) != CF_OK)
        cr_log_error("%s: %s", name, err.message);
    return tok;
}

Test(tokenizer_bad_input, invalid_utf8_names_byte_offset)
{
    char **dirs;
    size_t n = cf_test_cases("tokenizers", "tokenizer.json", &dirs);
    cr_assert(n > 0);
    for (size_t i = 0; i < n; i++) {
        cf_tokenizer *tok = NULL;
        cf_error err = {0};
        cr_assert_eq(cf_tokenizer_load(dirs[i], &tok, &err), CF_OK, "%s", err.message);
        cf_encoding e;
        cr_expect_eq(cf_tokenizer_encode(tok, "abc\xC3\x28xyz", NULL, &e, &err), CF_ERR_INVALID_ARG);
        cr_expect(strstr(err.message, "byte offset 3"), "message should name the offset: %s", err.message);
        cf_tokenizer_free(tok);
    }
    cf_test_free_list(dirs, n);
}

/* A 10 MB single "word" must finish (linear time) and produce tokens; no timing is asserted. */
Test(tokenizer_bad_input, huge_single_word_finishes, .timeout = 300)
{
    static const char *names[] = {"gpt2", "bert-base-uncased", "stories260k"};
    size_t len = 10u << 20;
    char *text = malloc(len + 1);
    cr_assert(text);
    for (size_t i = 0; i < len; i++)
        text[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    text[len] = '\0';
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        cf_tokenizer *tok = fixture_tokenizer(names[k]);
        if (!tok)
            continue;
        cf_encoding e;
        cf_error err = {0};
        cr_assert_eq(cf_tokenizer_encode(tok, text, NULL, &e, &err), CF_OK, "%s: %s", names[k], err.message);
        cr_expect(e.n > 0, "%s produced no tokens", names[k]);
        cf_encoding_free(&e);
        cf_tokenizer_free(tok);
    }
    free(text);
}

Test(tokenizer_bad_input, missing_folder_and_bad_args)
{
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    cr_expect_neq(cf_tokenizer_load("/nonexistent/cformer/folder", &tok, &err), CF_OK);
    cr_expect(strstr(err.message, "/nonexistent/cformer/folder"), "%s", err.message);
    cr_expect_null(tok);
}
