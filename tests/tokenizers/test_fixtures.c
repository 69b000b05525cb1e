/* Every case of every tokenizer fixture folder (fixtures/tokenizers/<name>/cases.json), loaded
 * from tokenizer.json and, where the folder has them, from the legacy files alone. Exact match
 * of ids, tokens, offsets, type ids, masks, word/sequence ids and decodes. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "core/buf.h"
#include "common/testutil.h"

typedef struct tally {
    size_t cases, passed;
} tally;

/* Compares an int array field; -1 in `got` stands for JSON null. */
static bool same_ints(const cJSON *want, const int64_t *got, size_t n, const char *field, const char *where)
{
    if (!cJSON_IsArray(want))
        return true; /* field not recorded for this folder */
    if ((size_t)cJSON_GetArraySize(want) != n) {
        cr_log_error("%s: %s has %zu entries, expected %d", where, field, n, cJSON_GetArraySize(want));
        return false;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, want)
    {
        int64_t w = cJSON_IsNull(it) ? -1 : (int64_t)it->valuedouble;
        if (w != got[i]) {
            cr_log_error("%s: %s[%zu] = %lld, expected %lld", where, field, i, (long long)got[i], (long long)w);
            return false;
        }
        i++;
    }
    return true;
}

static bool same_tokens(const cJSON *want, char **got, size_t n, const char *where)
{
    if (!cJSON_IsArray(want))
        return true;
    if ((size_t)cJSON_GetArraySize(want) != n) {
        cr_log_error("%s: %zu tokens, expected %d", where, n, cJSON_GetArraySize(want));
        return false;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, want)
    {
        if (!cJSON_IsString(it) || strcmp(it->valuestring, got[i])) {
            cr_log_error("%s: token %zu is \"%s\", expected \"%s\"", where, i, got[i],
                         cJSON_IsString(it) ? it->valuestring : "?");
            return false;
        }
        i++;
    }
    return true;
}

static bool same_offsets(const cJSON *want, const cf_encoding *e, const char *where)
{
    if (!cJSON_IsArray(want))
        return true;
    if ((size_t)cJSON_GetArraySize(want) != e->n) {
        cr_log_error("%s: %zu offsets, expected %d", where, e->n, cJSON_GetArraySize(want));
        return false;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, want)
    {
        int64_t a = (int64_t)cJSON_GetArrayItem(it, 0)->valuedouble, b = (int64_t)cJSON_GetArrayItem(it, 1)->valuedouble;
        if (a != e->offsets[i][0] || b != e->offsets[i][1]) {
            cr_log_error("%s: offsets[%zu] = [%lld, %lld], expected [%lld, %lld]", where, i,
                         (long long)e->offsets[i][0], (long long)e->offsets[i][1], (long long)a, (long long)b);
            return false;
        }
        i++;
    }
    return true;
}

static bool same_decode(const cf_tokenizer *tok, const cf_encoding *e, const cJSON *want, int skip, const char *where)
{
    if (!cJSON_IsString(want))
        return true;
    char *text = NULL;
    cf_error err = {0};
    if (cf_tokenizer_decode(tok, e->ids, e->n, skip, &text, &err) != CF_OK) {
        cr_log_error("%s: decode failed: %s", where, err.message);
        return false;
    }
    bool ok = !strcmp(text, want->valuestring);
    if (!ok)
        cr_log_error("%s: decode%s = \"%s\", expected \"%s\"", where, skip ? "(skip special)" : "", text,
                     want->valuestring);
    free(text);
    return ok;
}

/* Everything recorded for one encoding (ids given separately so legacy loads can use python_slow_ids). */
static bool same_encoding(const cf_tokenizer *tok, const cf_encoding *e, const cJSON *c, const cJSON *ids,
                          bool all_fields, const char *where)
{
    bool ok = same_ints(ids, e->ids, e->n, "ids", where);
    if (!all_fields)
        return ok;
    ok = ok && same_tokens(cJSON_GetObjectItem(c, "tokens"), e->tokens, e->n, where);
    ok = ok && same_offsets(cJSON_GetObjectItem(c, "offsets"), e, where);
    ok = ok && same_ints(cJSON_GetObjectItem(c, "type_ids"), e->type_ids, e->n, "type_ids", where);
    ok = ok && same_ints(cJSON_GetObjectItem(c, "special_tokens_mask"), e->special_mask, e->n, "special_tokens_mask", where);
    ok = ok && same_ints(cJSON_GetObjectItem(c, "attention_mask"), e->attention_mask, e->n, "attention_mask", where);
    ok = ok && same_ints(cJSON_GetObjectItem(c, "word_ids"), e->word_ids, e->n, "word_ids", where);
    ok = ok && same_ints(cJSON_GetObjectItem(c, "sequence_ids"), e->sequence_ids, e->n, "sequence_ids", where);
    ok = ok && same_decode(tok, e, cJSON_GetObjectItem(c, "decode"), 0, where);
    ok = ok && same_decode(tok, e, cJSON_GetObjectItem(c, "decode_skip_special"), 1, where);
    return ok;
}

static const char *str_of(const cJSON *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(c, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void run_cases(const cf_tokenizer *tok, const cJSON *cases, bool legacy, const char *name, tally *t)
{
    size_t idx = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        char where[512];
        snprintf(where, sizeof where, "%s%s case %zu", name, legacy ? " (legacy files)" : "", idx++);
        const char *input = str_of(c, "input"), *pair = str_of(c, "pair");
        cr_assert(input, "%s: no input", where);
        cf_encoding e;
        cf_error err = {0};
        cf_encode_options opt = cf_encode_options_default();
        t->cases++;
        if (cf_tokenizer_encode_pair(tok, input, pair, &opt, &e, &err) != CF_OK) {
            cr_log_error("%s: encode failed: %s", where, err.message);
            continue;
        }
        const cJSON *ids = cJSON_GetObjectItem(c, "ids");
        const cJSON *slow = cJSON_GetObjectItem(c, "python_slow_ids");
        bool all = true;
        if (legacy && cJSON_IsArray(slow)) {
            /* The slow tokenizer is the reference for the legacy files; the other fields are
             * the fast library's and apply where both agree. */
            all = cJSON_Compare(slow, ids, 1);
            ids = slow;
        }
        if (same_encoding(tok, &e, c, ids, all, where))
            t->passed++;
        cf_encoding_free(&e);
    }
}

static cf_truncation_strategy strategy_of(const char *s)
{
    if (s && !strcmp(s, "only_first"))
        return CF_TRUNCATE_ONLY_FIRST;
    if (s && !strcmp(s, "only_second"))
        return CF_TRUNCATE_ONLY_SECOND;
    return CF_TRUNCATE_LONGEST_FIRST;
}

static void run_truncation(const cf_tokenizer *tok, const cJSON *cases, const char *name, tally *t)
{
    size_t idx = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        char where[512];
        snprintf(where, sizeof where, "%s truncation case %zu", name, idx++);
        const cJSON *call = cJSON_GetObjectItem(c, "call");
        cf_encode_options opt = cf_encode_options_default();
        opt.truncation = strategy_of(str_of(call, "truncation"));
        const cJSON *v;
        if ((v = cJSON_GetObjectItem(call, "max_length")))
            opt.max_length = (int64_t)v->valuedouble;
        if ((v = cJSON_GetObjectItem(call, "stride")))
            opt.stride = (int64_t)v->valuedouble;
        opt.return_overflowing = cJSON_IsTrue(cJSON_GetObjectItem(call, "return_overflowing_tokens"));
        cf_encoding e;
        cf_error err = {0};
        t->cases++;
        if (cf_tokenizer_encode_pair(tok, str_of(c, "input"), str_of(c, "pair"), &opt, &e, &err) != CF_OK) {
            cr_log_error("%s: encode failed: %s", where, err.message);
            continue;
        }
        bool ok = same_encoding(tok, &e, c, cJSON_GetObjectItem(c, "ids"), true, where);
        const cJSON *over = cJSON_GetObjectItem(c, "overflowing");
        if (ok && cJSON_IsArray(over)) {
            if ((size_t)cJSON_GetArraySize(over) != e.n_overflowing) {
                cr_log_error("%s: %zu overflowing windows, expected %d", where, e.n_overflowing, cJSON_GetArraySize(over));
                ok = false;
            }
            for (size_t i = 0; ok && i < e.n_overflowing; i++) {
                const cJSON *o = cJSON_GetArrayItem(over, (int)i);
                char w2[600];
                snprintf(w2, sizeof w2, "%s overflowing %zu", where, i);
                ok = same_encoding(tok, &e.overflowing[i], o, cJSON_GetObjectItem(o, "ids"), true, w2);
            }
        }
        t->passed += ok;
        cf_encoding_free(&e);
    }
}

static bool has_legacy_files(const char *dir)
{
    static const char *names[] = {"vocab.txt", "merges.txt", "tokenizer.model", "spiece.model", "source.spm",
                                  "sentencepiece.bpe.model"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (cf_file_exists(path))
            return true;
    }
    return false;
}

static void run_folder(const char *dir, bool legacy, tally *total)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    cJSON *doc = cf_test_read_json(path);
    cr_assert(doc, "%s unreadable", path);
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    cf_status st = legacy ? cf_tokenizer_load_legacy(dir, &tok, &err) : cf_tokenizer_load(dir, &tok, &err);
    tally t = {0};
    if (st != CF_OK) {
        cr_log_error("%s: load failed: %s", name, err.message);
        t.cases = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(doc, "cases"));
    } else {
        const cJSON *vs = cJSON_GetObjectItem(doc, "vocab_size_with_added");
        if (!legacy && cJSON_IsNumber(vs)) {
            t.cases++;
            if (cf_tokenizer_vocab_size(tok) == (size_t)vs->valuedouble)
                t.passed++;
            else
                cr_log_error("%s: vocab size %zu, expected %d", name, cf_tokenizer_vocab_size(tok), vs->valueint);
        }
        run_cases(tok, cJSON_GetObjectItem(doc, "cases"), legacy, name, &t);
        if (!legacy)
            run_truncation(tok, cJSON_GetObjectItem(doc, "truncation_cases"), name, &t);
    }
    fprintf(stderr, "%-28s %-16s %zu/%zu\n", name, legacy ? "legacy files" : "tokenizer.json", t.passed, t.cases);
    total->cases += t.cases;
    total->passed += t.passed;
    cf_tokenizer_free(tok);
    cJSON_Delete(doc);
}

Test(tokenizer_fixtures, from_tokenizer_json)
{
    char **dirs;
    size_t n = cf_test_cases("tokenizers", "cases.json", &dirs);
    cr_assert(n > 0, "no tokenizer fixtures under %s/tokenizers", cf_test_fixtures());
    tally total = {0};
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/tokenizer.json", dirs[i]);
        if (cf_file_exists(path))
            run_folder(dirs[i], false, &total);
    }
    cf_test_free_list(dirs, n);
    fprintf(stderr, "tokenizer.json: %zu/%zu cases pass\n", total.passed, total.cases);
    cr_expect_eq(total.passed, total.cases, "%zu of %zu tokenizer.json cases differ", total.cases - total.passed,
                 total.cases);
}

Test(tokenizer_fixtures, from_legacy_files)
{
    char **dirs;
    size_t n = cf_test_cases("tokenizers", "cases.json", &dirs);
    cr_assert(n > 0, "no tokenizer fixtures under %s/tokenizers", cf_test_fixtures());
    tally total = {0};
    for (size_t i = 0; i < n; i++)
        if (has_legacy_files(dirs[i]))
            run_folder(dirs[i], true, &total);
    cf_test_free_list(dirs, n);
    fprintf(stderr, "legacy files: %zu/%zu cases pass\n", total.passed, total.cases);
    cr_expect_eq(total.passed, total.cases, "%zu of %zu legacy cases differ", total.cases - total.passed, total.cases);
}

/* Translation folders with a separate target side (Marian's target.spm): "target_ids" is the
 * input encoded as target text, "target_decode*" those ids decoded back. */
static void run_target_cases(const char *dir, tally *total)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    cJSON *doc = cf_test_read_json(path);
    const cJSON *cases = cJSON_GetObjectItem(doc, "cases"), *c;
    bool any = false;
    cJSON_ArrayForEach(c, cases) any |= cJSON_IsArray(cJSON_GetObjectItem(c, "target_ids"));
    if (!any) {
        cJSON_Delete(doc);
        return;
    }
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_tokenizer_load_target(dir, &tok, &err), CF_OK, "%s: %s", name, err.message);
    tally t = {0};
    size_t idx = 0;
    cJSON_ArrayForEach(c, cases)
    {
        char where[512];
        snprintf(where, sizeof where, "%s target case %zu", name, idx++);
        const cJSON *want = cJSON_GetObjectItem(c, "target_ids");
        if (!cJSON_IsArray(want))
            continue;
        t.cases++;
        cf_encoding e;
        cf_encode_options opt = cf_encode_options_default();
        if (cf_tokenizer_encode_pair(tok, str_of(c, "input"), str_of(c, "pair"), &opt, &e, &err) != CF_OK) {
            cr_log_error("%s: encode failed: %s", where, err.message);
            continue;
        }
        bool ok = same_ints(want, e.ids, e.n, "target_ids", where);
        ok = ok && same_decode(tok, &e, cJSON_GetObjectItem(c, "target_decode"), 0, where);
        ok = ok && same_decode(tok, &e, cJSON_GetObjectItem(c, "target_decode_skip_special"), 1, where);
        t.passed += ok;
        cf_encoding_free(&e);
    }
    fprintf(stderr, "%-28s %-16s %zu/%zu\n", name, "target side", t.passed, t.cases);
    total->cases += t.cases;
    total->passed += t.passed;
    cf_tokenizer_free(tok);
    cJSON_Delete(doc);
}

Test(tokenizer_fixtures, target_side)
{
    char **dirs;
    size_t n = cf_test_cases("tokenizers", "cases.json", &dirs);
    cr_assert(n > 0, "no tokenizer fixtures under %s/tokenizers", cf_test_fixtures());
    tally total = {0};
    for (size_t i = 0; i < n; i++)
        run_target_cases(dirs[i], &total);
    cf_test_free_list(dirs, n);
    fprintf(stderr, "target side: %zu/%zu cases pass\n", total.passed, total.cases);
    cr_expect_eq(total.passed, total.cases, "%zu of %zu target-side cases differ", total.cases - total.passed,
                 total.cases);
}
