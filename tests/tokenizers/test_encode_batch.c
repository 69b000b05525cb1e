/* cf_tokenizer_encode_batch on the thread pool gives exactly the serial results: for every
 * fixture tokenizer folder (fixtures/tokenizers/<name>/ with cases.json, walked), the inputs of
 * its cases encoded as one batch with 2 threads equal the batch with 1 thread and each text
 * encoded alone (ids, tokens, offsets, masks), also with longest padding where a pad token
 * exists. A failing item reports the lowest failing index. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "common/testutil.h"
#include "core/buf.h"
#include "core/threadpool.h"

static void expect_same(const cf_encoding *a, const cf_encoding *b, const char *what, size_t i)
{
    cr_assert_eq(a->n, b->n, "%s item %zu: %zu vs %zu tokens", what, i, a->n, b->n);
    for (size_t k = 0; k < a->n; k++) {
        cr_expect_eq(a->ids[k], b->ids[k], "%s item %zu id %zu", what, i, k);
        cr_expect_str_eq(a->tokens[k], b->tokens[k], "%s item %zu token %zu", what, i, k);
        cr_expect(a->offsets[k][0] == b->offsets[k][0] && a->offsets[k][1] == b->offsets[k][1],
                  "%s item %zu offset %zu", what, i, k);
        cr_expect_eq(a->attention_mask[k], b->attention_mask[k], "%s item %zu mask %zu", what, i, k);
    }
}

static void encode_batch(const cf_tokenizer *tok, const char **texts, size_t n, const cf_encode_options *o,
                         int threads, cf_encoding *out)
{
    cf_error err = {0};
    cf_threads_set(threads);
    cr_assert_eq(cf_tokenizer_encode_batch(tok, texts, NULL, n, o, out, &err), CF_OK, "%s", err.message);
    cf_threads_set(0);
}

/* Inputs of cases.json repeated to `n` texts (so every thread gets work). */
static size_t gather_texts(const cJSON *cases, const char **texts, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        size_t before = n;
        const cJSON *c;
        cJSON_ArrayForEach(c, cases)
        {
            const cJSON *in = cJSON_GetObjectItem(c, "input");
            if (cJSON_IsString(in) && n < cap)
                texts[n++] = in->valuestring;
        }
        if (n == before)
            break;
    }
    return n;
}

static void check_folder(const char *dir, const cJSON *cases)
{
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_tokenizer_load(dir, &tok, &err), CF_OK, "%s", err.message);
    enum { CAP = 300 };
    const char *texts[CAP];
    size_t n = gather_texts(cases, texts, CAP);
    cr_assert_gt(n, 0, "%s: no inputs", dir);
    cf_encode_options plain = cf_encode_options_default(), padded = plain;
    padded.padding = CF_PAD_LONGEST;
    bool can_pad = cf_tokenizer_special_id(tok, "pad_token") >= 0;
    for (int round = 0; round < (can_pad ? 2 : 1); round++) {
        const cf_encode_options *o = round ? &padded : &plain;
        cf_encoding *one = calloc(n, sizeof *one), *two = calloc(n, sizeof *two);
        encode_batch(tok, texts, n, o, 1, one);
        encode_batch(tok, texts, n, o, 2, two);
        for (size_t i = 0; i < n; i++) {
            expect_same(&two[i], &one[i], dir, i);
            if (!round) {
                cf_encoding alone;
                cr_assert_eq(cf_tokenizer_encode(tok, texts[i], o, &alone, &err), CF_OK, "%s", err.message);
                expect_same(&two[i], &alone, dir, i);
                cf_encoding_free(&alone);
            }
            cf_encoding_free(&one[i]);
            cf_encoding_free(&two[i]);
        }
        free(one);
        free(two);
    }
    cf_tokenizer_free(tok);
}

Test(encode_batch, parallel_equals_serial_on_every_fixture_tokenizer)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("tokenizers", "cases.json", &dirs), checked = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/cases.json", dirs[i]);
        cJSON *doc = cf_test_read_json(path);
        const cJSON *cases = cJSON_GetObjectItem(doc, "cases");
        if (!cases)
            cases = doc;
        check_folder(dirs[i], cases);
        cJSON_Delete(doc);
        checked++;
    }
    cf_test_free_list(dirs, n);
    cr_assert_gt(checked, 0, "no tokenizer fixtures under %s", cf_test_fixtures());
}

Test(encode_batch, lowest_failing_item_is_reported)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("tokenizers", "tokenizer.json", &dirs);
    cr_assert_gt(n, 0);
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_tokenizer_load(dirs[0], &tok, &err), CF_OK, "%s", err.message);
    const char *texts[64];
    for (size_t i = 0; i < 64; i++)
        texts[i] = i == 37 || i == 50 ? NULL : "some text";
    cf_encoding out[64];
    cf_threads_set(2);
    cr_expect_eq(cf_tokenizer_encode_batch(tok, texts, NULL, 64, NULL, out, &err), CF_ERR_INVALID_ARG);
    cf_threads_set(0);
    cr_expect(strstr(err.message, "batch item 37") != NULL, "%s", err.message);
    cf_tokenizer_free(tok);
    cf_test_free_list(dirs, n);
}
