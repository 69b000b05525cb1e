/* Unigram + Precompiled end to end on the sentencepiece fixture cases: each folder with a
 * Unigram sentencepiece model is converted, its charsmap and model rebuilt from the JSON,
 * and every case whose text holds no added token (their splitting belongs to the
 * tokenizer.json loader) is encoded the way sentencepiece does — normalize, split at
 * spaces, "▁" before each word, Viterbi — and compared id for id with the slow
 * tokenizer's ids (python_slow_ids, or ids where the slow tokenizer is the reference). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "tokenizers/convert_spm.h"
#include "tokenizers/precompiled.h"
#include "tokenizers/unigram.h"

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

static uint8_t *unbase64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    *len = 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        const char *tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = strchr(tbl, s[i]);
        cr_assert(p && *p, "bad base64 char");
        acc = acc << 6 | (uint32_t)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[(*len)++] = (uint8_t)(acc >> bits);
        }
    }
    return out;
}

typedef struct spm_side {
    cf_precompiled *pre;
    cf_unigram *uni;
    const cJSON *added; /* added_tokens of the document */
    int64_t eos_id;
    cJSON *doc;
} spm_side;

static void side_load(spm_side *s, cJSON *doc)
{
    cf_error err = {0};
    s->doc = doc;
    const cJSON *model = get(doc, "model");
    cr_assert_eq(cf_unigram_from_json(model, &s->uni, &err), CF_OK, "%s", err.message);
    const cJSON *norms = get(get(doc, "normalizer"), "normalizers");
    const cJSON *pc = cJSON_GetArrayItem(norms, 0);
    cr_assert_str_eq(get(pc, "type")->valuestring, "Precompiled");
    size_t len;
    uint8_t *bytes = unbase64(get(pc, "precompiled_charsmap")->valuestring, &len);
    cr_assert_eq(cf_precompiled_new(bytes, len, &s->pre, &err), CF_OK, "%s", err.message);
    free(bytes);
    s->added = get(doc, "added_tokens");
    const cJSON *specials = get(get(doc, "post_processor"), "special_tokens");
    s->eos_id = (int64_t)cJSON_GetArrayItem(get(specials->child, "ids"), 0)->valuedouble;
}

static void side_free(spm_side *s)
{
    cf_precompiled_free(s->pre);
    cf_unigram_free(s->uni);
    cJSON_Delete(s->doc);
}

static bool holds_added_token(const spm_side *s, const char *text)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, s->added)
    {
        if (strstr(text, get(t, "content")->valuestring))
            return true;
    }
    return false;
}

/* sentencepiece's encode of text without added tokens: ids, eos not included. */
static size_t spm_encode(const spm_side *s, const char *text, int64_t *ids, size_t cap)
{
    cf_error err = {0};
    char *norm;
    size_t nlen, n = 0;
    cr_assert_eq(cf_precompiled_normalize_string(s->pre, text, strlen(text), &norm, &nlen, &err), CF_OK, "%s",
                 err.message);
    for (char *word = strtok(norm, " "); word; word = strtok(NULL, " ")) {
        char buf[4096];
        snprintf(buf, sizeof buf, "\xE2\x96\x81%s", word);
        cf_unigram_token *toks;
        size_t nt;
        cr_assert_eq(cf_unigram_encode(s->uni, buf, strlen(buf), &toks, &nt, &err), CF_OK, "%s", err.message);
        for (size_t i = 0; i < nt && n < cap; i++)
            ids[n++] = toks[i].id;
        free(toks);
    }
    free(norm);
    return n;
}

static size_t compare_cases(const char *dir, const spm_side *s, const cJSON *cases, const char *ids_key,
                            size_t *skipped)
{
    size_t passed = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *text = get(c, "input")->valuestring;
        const cJSON *want = get(c, ids_key);
        if (!want)
            continue;
        if (holds_added_token(s, text)) {
            (*skipped)++;
            continue;
        }
        int64_t got[4096];
        size_t n = spm_encode(s, text, got, 4096);
        size_t nw = (size_t)cJSON_GetArraySize(want);
        cr_assert_geq(nw, 1);
        cr_assert_eq((int64_t)cJSON_GetArrayItem(want, (int)nw - 1)->valuedouble, s->eos_id);
        cr_expect_eq(n, nw - 1, "%s %s: %zu ids, expected %zu for \"%s\"", dir, ids_key, n, nw - 1, text);
        bool same = n == nw - 1;
        for (size_t i = 0; same && i < n; i++)
            same = got[i] == (int64_t)cJSON_GetArrayItem(want, (int)i)->valuedouble;
        cr_expect(same, "%s %s: ids differ for \"%s\"", dir, ids_key, text);
        passed += same;
    }
    return passed;
}

Test(spm_encode, unigram_fixture_cases_match_the_slow_tokenizer)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/tokenizers", cf_test_fixtures());
    DIR *d = opendir(root);
    cr_assert_not_null(d, "no %s", root);
    size_t folders = 0, total = 0, skipped = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char dir[4096], cases_path[4200];
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        snprintf(cases_path, sizeof cases_path, "%s/cases.json", dir);
        if (e->d_name[0] == '.' || !cf_file_exists(cases_path) || !cf_spm_folder_has_model(dir))
            continue;
        cf_error err = {0};
        cJSON *doc;
        cr_assert_eq(cf_spm_convert(dir, &doc, &err), CF_OK, "%s", err.message);
        if (strcmp(get(get(doc, "model"), "type")->valuestring, "Unigram") != 0) {
            cJSON_Delete(doc);
            continue;
        }
        cJSON *cases_doc = cf_test_read_json(cases_path);
        const cJSON *cases = get(cases_doc, "cases");
        spm_side src = {0};
        side_load(&src, doc);
        bool slow_separate = get(cases->child, "python_slow_ids") != NULL;
        size_t n = compare_cases(dir, &src, cases, slow_separate ? "python_slow_ids" : "ids", &skipped);
        total += n;
        cr_log_info("%s: %zu cases match", dir, n);
        if (get(cases->child, "target_ids")) {
            cJSON *tdoc;
            cr_assert_eq(cf_spm_convert_target(dir, &tdoc, &err), CF_OK, "%s", err.message);
            spm_side tgt = {0};
            side_load(&tgt, tdoc);
            size_t nt = compare_cases(dir, &tgt, cases, "target_ids", &skipped);
            cr_log_info("%s: %zu target cases match", dir, nt);
            total += nt;
            side_free(&tgt);
        }
        side_free(&src);
        cJSON_Delete(cases_doc);
        folders++;
    }
    closedir(d);
    cr_assert_gt(folders, 0, "no Unigram sentencepiece folder with cases.json under %s", root);
    cr_assert_gt(total, 0);
    cr_log_info("%zu folders, %zu case encodings match, %zu hold added tokens (left to the loader)", folders, total,
                skipped);
}
