/* The tokenizer calls recorded beside model fixtures: every fixtures/<family>/<case>/expected.json
 * "forward" entry with texts, tokenizer_kwargs and ids is replayed on that folder's tokenizer
 * (tokenizer.json or its legacy files). Covers pairs, batches with padding and the question-
 * answering windows (truncation only_second, stride, overflowing, padding). Exact ids. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "common/testutil.h"

typedef struct tally {
    size_t entries, passed;
} tally;

static cf_encode_options options_of(const cJSON *kw)
{
    cf_encode_options o = cf_encode_options_default();
    const cJSON *v = cJSON_GetObjectItem(kw, "truncation");
    if (cJSON_IsString(v))
        o.truncation = !strcmp(v->valuestring, "only_first")    ? CF_TRUNCATE_ONLY_FIRST
                       : !strcmp(v->valuestring, "only_second") ? CF_TRUNCATE_ONLY_SECOND
                                                                : CF_TRUNCATE_LONGEST_FIRST;
    else if (cJSON_IsTrue(v))
        o.truncation = CF_TRUNCATE_LONGEST_FIRST;
    if (cJSON_IsNumber(v = cJSON_GetObjectItem(kw, "max_length")))
        o.max_length = (int64_t)v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItem(kw, "stride")))
        o.stride = (int64_t)v->valuedouble;
    o.return_overflowing = cJSON_IsTrue(cJSON_GetObjectItem(kw, "return_overflowing_tokens"));
    v = cJSON_GetObjectItem(kw, "padding");
    if (cJSON_IsTrue(v) || (cJSON_IsString(v) && !strcmp(v->valuestring, "longest")))
        o.padding = CF_PAD_LONGEST;
    else if (cJSON_IsString(v) && !strcmp(v->valuestring, "max_length"))
        o.padding = CF_PAD_MAX_LENGTH;
    return o;
}

/* Appends the rows of `e` (the encoding, then its overflowing windows) to rows/n. */
static void collect(const cf_encoding *e, const cf_encoding **rows, size_t *n, size_t cap)
{
    if (*n < cap)
        rows[(*n)++] = e;
    for (size_t i = 0; i < e->n_overflowing; i++)
        if (*n < cap)
            rows[(*n)++] = &e->overflowing[i];
}

static bool same_rows(const cJSON *want, const cf_encoding **rows, size_t n, const char *where)
{
    if ((size_t)cJSON_GetArraySize(want) != n) {
        cr_log_error("%s: %zu rows of ids, expected %d", where, n, cJSON_GetArraySize(want));
        return false;
    }
    for (size_t r = 0; r < n; r++) {
        const cJSON *w = cJSON_GetArrayItem(want, (int)r);
        if ((size_t)cJSON_GetArraySize(w) != rows[r]->n) {
            cr_log_error("%s: row %zu has %zu ids, expected %d", where, r, rows[r]->n, cJSON_GetArraySize(w));
            return false;
        }
        for (size_t i = 0; i < rows[r]->n; i++)
            if ((int64_t)cJSON_GetArrayItem(w, (int)i)->valuedouble != rows[r]->ids[i]) {
                cr_log_error("%s: row %zu id %zu = %lld, expected %lld", where, r, i, (long long)rows[r]->ids[i],
                             (long long)cJSON_GetArrayItem(w, (int)i)->valuedouble);
                return false;
            }
    }
    return true;
}

enum { MAX_ROWS = 256, MAX_BATCH = 64 };

/* One forward entry; false when it is not a text tokenizer call this test understands. */
static bool run_entry(const cf_tokenizer *tok, const cJSON *entry, const char *where, tally *t)
{
    const cJSON *texts = cJSON_GetObjectItem(entry, "texts"), *ids = cJSON_GetObjectItem(entry, "ids");
    if (!cJSON_IsArray(texts) || !cJSON_IsArray(ids) || cJSON_GetArraySize(texts) < 1)
        return false;
    cf_encode_options opt = options_of(cJSON_GetObjectItem(entry, "tokenizer_kwargs"));
    const cJSON *first = cJSON_GetArrayItem(texts, 0);
    cf_encoding enc[MAX_BATCH];
    size_t n_enc = 0;
    cf_error err = {0};
    cf_status st;
    if (cJSON_IsArray(first)) { /* a batch of single texts */
        const char *batch[MAX_BATCH];
        const cJSON *it;
        cJSON_ArrayForEach(it, first)
        {
            if (!cJSON_IsString(it) || n_enc == MAX_BATCH)
                return false;
            batch[n_enc++] = it->valuestring;
        }
        st = cf_tokenizer_encode_batch(tok, batch, NULL, n_enc, &opt, enc, &err);
    } else {
        const cJSON *second = cJSON_GetArrayItem(texts, 1);
        if (!cJSON_IsString(first) || cJSON_GetArraySize(texts) > 2)
            return false;
        n_enc = 1;
        st = cf_tokenizer_encode_pair(tok, first->valuestring, cJSON_IsString(second) ? second->valuestring : NULL,
                                      &opt, &enc[0], &err);
    }
    t->entries++;
    if (st != CF_OK) {
        cr_log_error("%s: encode failed: %s", where, err.message);
        return true;
    }
    const cf_encoding *rows[MAX_ROWS];
    size_t n_rows = 0;
    for (size_t i = 0; i < n_enc; i++)
        collect(&enc[i], rows, &n_rows, MAX_ROWS);
    t->passed += same_rows(ids, rows, n_rows, where);
    for (size_t i = 0; i < n_enc; i++)
        cf_encoding_free(&enc[i]);
    return true;
}

static bool has_tokenizer_files(const char *dir)
{
    static const char *names[] = {"tokenizer.json", "vocab.txt", "merges.txt", "tokenizer.model", "spiece.model",
                                  "source.spm"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return true;
        }
    }
    return false;
}

static void run_case(const char *dir, tally *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *doc = cf_test_read_json(path);
    const cJSON *forward = cJSON_GetObjectItem(doc, "forward");
    if (!cJSON_IsObject(forward) || !has_tokenizer_files(dir)) {
        cJSON_Delete(doc);
        return;
    }
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    if (cf_tokenizer_load(dir, &tok, &err) != CF_OK) {
        cr_log_error("%s: tokenizer load failed: %s", dir, err.message);
        t->entries++;
        cJSON_Delete(doc);
        return;
    }
    const cJSON *entry;
    cJSON_ArrayForEach(entry, forward)
    {
        char where[4400];
        snprintf(where, sizeof where, "%s forward.%s", dir, entry->string);
        run_entry(tok, entry, where, t);
    }
    cf_tokenizer_free(tok);
    cJSON_Delete(doc);
}

Test(forward_fixtures, tokenizer_calls_of_model_fixtures)
{
    DIR *root = opendir(cf_test_fixtures());
    cr_assert(root, "cannot list %s", cf_test_fixtures());
    tally t = {0};
    struct dirent *d;
    while ((d = readdir(root))) {
        if (d->d_name[0] == '.' || !strcmp(d->d_name, "tokenizers"))
            continue;
        char **dirs;
        size_t n = cf_test_cases(d->d_name, "expected.json", &dirs);
        for (size_t i = 0; i < n; i++)
            run_case(dirs[i], &t);
        cf_test_free_list(dirs, n);
    }
    closedir(root);
    fprintf(stderr, "forward tokenizer calls: %zu/%zu match\n", t.passed, t.entries);
    cr_expect(t.entries > 0, "no forward entries with tokenizer calls found under %s", cf_test_fixtures());
    cr_expect_eq(t.passed, t.entries, "%zu of %zu recorded tokenizer calls differ", t.entries - t.passed, t.entries);
}
