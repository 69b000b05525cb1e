/* Character-level CTC tokenizers (Wav2Vec2CTCTokenizer: vocab.json + tokenizer_config.json):
 * for every model fixture whose config.json names a *ForCTC architecture, the greedy ids
 * (argmax of the recorded logits) decode to the text the speech-recognition pipeline printed
 * for the recorded input (inputs.json "audio"). Also checks encode -> decode round trips. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "common/testutil.h"
#include "io/safetensors.h"

static bool is_ctc_model(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fclose(f);
    cJSON *cfg = cf_test_read_json(path);
    bool ctc = false;
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItem(cfg, "architectures"))
    {
        const char *s = cJSON_IsString(a) ? a->valuestring : "";
        size_t n = strlen(s);
        ctc |= n >= 6 && !strcmp(s + n - 6, "ForCTC");
    }
    cJSON_Delete(cfg);
    return ctc;
}

/* The text the ASR pipeline printed for `audio`, or NULL. */
static const char *pipeline_text(const cJSON *expected, const char *audio)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(expected, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(c, "call");
        const cJSON *task = cJSON_GetObjectItem(call, "task"), *arg = cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0);
        const cJSON *kw = cJSON_GetObjectItem(call, "kwargs");
        if (!cJSON_IsString(task) || strcmp(task->valuestring, "automatic-speech-recognition") || !cJSON_IsString(arg) ||
            strcmp(arg->valuestring, audio) || (kw && cJSON_GetArraySize(kw) > 0))
            continue;
        const cJSON *text = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "output"), "text");
        return cJSON_IsString(text) ? text->valuestring : NULL;
    }
    return NULL;
}

static int64_t *greedy_ids(const cf_tensor *logits, size_t *n)
{
    size_t frames = (size_t)logits->shape[0], v = (size_t)logits->shape[1];
    int64_t *ids = malloc(frames * sizeof *ids);
    const float *x = logits->data;
    for (size_t t = 0; ids && t < frames; t++) {
        size_t best = 0;
        for (size_t k = 1; k < v; k++)
            if (x[t * v + k] > x[t * v + best])
                best = k;
        ids[t] = (int64_t)best;
    }
    *n = frames;
    return ids;
}

static size_t check_case(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    cJSON *inputs = cf_test_read_json(path);
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *expected = cf_test_read_json(path);
    const cJSON *audio = cJSON_GetObjectItem(inputs, "audio");
    const char *want = cJSON_IsString(audio) ? pipeline_text(expected, audio->valuestring) : NULL;
    cf_error err = {0};
    cf_safetensors *st = NULL;
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    const cf_tensor *logits = NULL;
    if (want && cf_st_open(path, &st, &err) == CF_OK)
        logits = cf_st_find(st, "logits");
    size_t checked = 0;
    if (logits && logits->ndim == 2 && logits->dtype == CF_DTYPE_F32) {
        cf_tokenizer *tok = NULL;
        cr_assert_eq(cf_tokenizer_load(dir, &tok, &err), CF_OK, "%s: %s", dir, err.message);
        cr_expect_eq((int64_t)cf_tokenizer_vocab_size(tok), logits->shape[1], "%s: vocabulary of %zu, logits have %lld",
                     dir, cf_tokenizer_vocab_size(tok), (long long)logits->shape[1]);
        size_t n;
        int64_t *ids = greedy_ids(logits, &n);
        char *text = NULL;
        /* The CTC pipeline decodes without skip_special_tokens. */
        cr_assert_eq(cf_tokenizer_decode(tok, ids, n, 0, &text, &err), CF_OK, "%s: %s", dir, err.message);
        cr_expect_str_eq(text, want, "%s: decoded \"%s\", the pipeline printed \"%s\"", dir, text, want);
        free(text);
        free(ids);
        cf_tokenizer_free(tok);
        checked = 1;
    }
    cf_st_close(st);
    cJSON_Delete(inputs);
    cJSON_Delete(expected);
    return checked;
}

Test(ctc_fixtures, greedy_ids_decode_to_pipeline_text)
{
    DIR *root = opendir(cf_test_fixtures());
    cr_assert(root, "cannot list %s", cf_test_fixtures());
    size_t checked = 0;
    struct dirent *d;
    while ((d = readdir(root))) {
        if (d->d_name[0] == '.')
            continue;
        char **dirs;
        size_t n = cf_test_cases(d->d_name, "expected.json", &dirs);
        for (size_t i = 0; i < n; i++)
            if (is_ctc_model(dirs[i]))
                checked += check_case(dirs[i]);
        cf_test_free_list(dirs, n);
    }
    closedir(root);
    fprintf(stderr, "CTC decodes checked: %zu\n", checked);
    cr_expect(checked > 0, "no *ForCTC fixture with logits and a pipeline text under %s", cf_test_fixtures());
}

/* A word-delimited text encodes to one id per char and decodes back (repeats are grouped, so
 * the text avoids doubled letters). */
Test(ctc_fixtures, encode_decode_round_trip)
{
    DIR *root = opendir(cf_test_fixtures());
    cr_assert(root);
    size_t checked = 0;
    struct dirent *d;
    while ((d = readdir(root))) {
        if (d->d_name[0] == '.')
            continue;
        char **dirs;
        size_t n = cf_test_cases(d->d_name, "expected.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            if (!is_ctc_model(dirs[i]))
                continue;
            cf_tokenizer *tok = NULL;
            cf_error err = {0};
            cr_assert_eq(cf_tokenizer_load(dirs[i], &tok, &err), CF_OK, "%s: %s", dirs[i], err.message);
            const char *text = "HE SAID IT WAS MY BOY'S CAT";
            cf_encoding e;
            cr_assert_eq(cf_tokenizer_encode(tok, text, NULL, &e, &err), CF_OK, "%s", err.message);
            cr_expect_eq(e.n, strlen(text), "%s: %zu ids for %zu chars", dirs[i], e.n, strlen(text));
            cr_expect_eq(e.ids[2], cf_tokenizer_token_to_id(tok, "|"), "a space is the word delimiter");
            cr_expect_eq(e.offsets[3][0], 3);
            cr_expect_eq(e.offsets[3][1], 4);
            char *back = NULL;
            cr_assert_eq(cf_tokenizer_decode(tok, e.ids, e.n, 1, &back, &err), CF_OK);
            cr_expect_str_eq(back, text);
            /* A blank between repeats keeps both; skip_special_tokens drops the blanks before the
             * grouping (as the slow tokenizer does), so the repeats then merge. */
            int64_t pad = cf_tokenizer_special_id(tok, "pad_token"), a = cf_tokenizer_token_to_id(tok, "A");
            int64_t eos = cf_tokenizer_special_id(tok, "eos_token");
            int64_t ids[] = {a, a, pad, a, pad, pad, eos};
            free(back);
            cr_assert_eq(cf_tokenizer_decode(tok, ids, 7, 0, &back, &err), CF_OK);
            char want[64];
            snprintf(want, sizeof want, "AA%s", cf_tokenizer_special_token(tok, "eos_token"));
            cr_expect_str_eq(back, want);
            free(back);
            cr_assert_eq(cf_tokenizer_decode(tok, ids, 7, 1, &back, &err), CF_OK);
            cr_expect_str_eq(back, "A");
            free(back);
            cf_encoding_free(&e);
            cf_tokenizer_free(tok);
            checked++;
        }
        cf_test_free_list(dirs, n);
    }
    closedir(root);
    cr_expect(checked > 0);
}
