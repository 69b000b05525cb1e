/* Encoder-decoder models (BART, Marian) against transformers 4.35.2, walking every case under
 * ${CFORMER_FIXTURES}/{bart,marian}/ that has expected.safetensors:
 *   encoder_hidden_states.i, decoder_hidden_states.i   teacher-forced forward of input_ids with
 *                                                      decoder_input_ids (0 = the embeddings)
 *   logits_vocab_0_512, logits_last                    first 512 vocabulary columns at every
 *                                                      decoder position; every column at the last
 *   logits, encoder_last_hidden_state                  BartForSequenceClassification
 * (greedy.sequences and beam.sequences: tests/generation/test_seq2seq_generation.c) */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fixture_case.h"
#include "common/testutil.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/bart.h"
#include "models/seq2seq.h"

/* float32 reference with the same operations up to summation order. */
#define FWD_ATOL 1e-4
#define FWD_RTOL 1e-4

static const char *const k_families[] = {"bart", "marian"};

typedef cf_test_case fixture;

static void expect_close(const fixture *f, const char *what, const float *got, const float *want, int64_t n)
{
    double worst;
    size_t at;
    cr_expect(cf_test_allclose(got, want, (size_t)n, FWD_ATOL, FWD_RTOL, &worst, &at),
              "%s: %s differs by %g at %zu (got %g, want %g; atol %g rtol %g)", f->dir, what, worst, at, got[at],
              want[at], FWD_ATOL, FWD_RTOL);
}

typedef struct tensor_ctx {
    const fixture *f;
    int enc_layers;
    int seen;
} tensor_ctx;

/* Hidden states as the model emits them; "encoder_last_hidden_state" is the last encoder one. */
static void on_tensor(void *p, const char *name, const float *data, int64_t rows, int64_t cols)
{
    tensor_ctx *c = p;
    char last[64];
    snprintf(last, sizeof last, "encoder_hidden_states.%d", c->enc_layers);
    const char *names[2] = {name, !strcmp(name, last) ? "encoder_last_hidden_state" : NULL};
    for (int i = 0; i < 2 && names[i]; i++) {
        int64_t n;
        float *want = cf_test_case_floats(c->f, names[i], &n);
        if (!want)
            continue;
        cr_assert_eq(n, rows * cols, "%s: %s has %lld values, the model gives %lld", c->f->dir, names[i],
                     (long long)n, (long long)(rows * cols));
        expect_close(c->f, names[i], data, want, n);
        free(want);
        c->seen++;
    }
}

/* ------------------------------------------------------------ teacher-forced ---- */

static void check_logits(const fixture *f, const float *logits, int64_t rows, int64_t V)
{
    int64_t n;
    float *want = cf_test_case_floats(f, "logits_vocab_0_512", &n);
    if (want) {
        int64_t cols = n / rows;
        cr_assert_eq(cols * rows, n, "%s: logits_vocab_0_512 is not [%lld, k]", f->dir, (long long)rows);
        float *got = malloc((size_t)n * sizeof *got);
        for (int64_t r = 0; r < rows; r++)
            memcpy(got + r * cols, logits + r * V, (size_t)cols * sizeof *got);
        expect_close(f, "logits_vocab_0_512", got, want, n);
        free(got);
        free(want);
    }
    want = cf_test_case_floats(f, "logits_last", &n);
    if (want) {
        cr_assert_eq(n, V, "%s: logits_last has %lld values, the vocabulary %lld", f->dir, (long long)n,
                     (long long)V);
        expect_close(f, "logits_last", logits + (rows - 1) * V, want, n);
        free(want);
    }
}

static void check_forward(const fixture *f, const cf_seq2seq *m)
{
    int64_t n_in, n_dec;
    const int64_t *ids = cf_test_case_ids(f, "input_ids", &n_in), *dec = cf_test_case_ids(f, "decoder_input_ids", &n_dec);
    cr_assert(ids && dec, "%s: input_ids and decoder_input_ids expected", f->dir);
    int64_t V = m->arch.dec_vocab;
    float *logits = malloc((size_t)(n_dec * V) * sizeof *logits);
    tensor_ctx tc = {.f = f, .enc_layers = -1};
    cf_error err = {0};
    cr_assert_eq(cf_seq2seq_forward(m, ids, n_in, dec, n_dec, logits, NULL, on_tensor, &tc, &err), CF_OK, "%s: %s",
                 f->dir, err.message);
    cr_expect_gt(tc.seen, 0, "%s: no hidden states compared", f->dir);
    check_logits(f, logits, n_dec, V);
    free(logits);
}

/* --------------------------------------------------------- classification ---- */

static void check_classifier(const fixture *f)
{
    cf_bart_classifier *c = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_bart_classifier_load(f->dir, &f->config, &c, &err), CF_OK, "%s: %s", f->dir, err.message);
    int64_t n, nl;
    const int64_t *ids = cf_test_case_ids(f, "input_ids", &n);
    float *want = cf_test_case_floats(f, "logits", &nl);
    cr_assert(ids && want, "%s: input_ids and logits expected", f->dir);
    cr_assert_eq(nl, cf_bart_classifier_num_labels(c));
    float *got = malloc((size_t)nl * sizeof *got);
    tensor_ctx tc = {.f = f, .enc_layers = (int)cf_config_int(&f->config, "encoder_layers", 0)};
    cr_assert_eq(cf_bart_classify(c, ids, n, got, NULL, on_tensor, &tc, &err), CF_OK, "%s", err.message);
    expect_close(f, "logits", got, want, nl);
    free(got);
    free(want);
    cf_bart_classifier_free(c);
}

static bool is_classifier(const fixture *f)
{
    const cJSON *arch = cJSON_GetArrayItem(cf_config_get(&f->config, "architectures"), 0);
    return cJSON_IsString(arch) && strstr(arch->valuestring, "ForSequenceClassification");
}

static void check_case(cf_test_case *f, void *ctx)
{
    if (is_classifier(f)) {
        check_classifier(f);
        return;
    }
    cf_seq2seq *m = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_seq2seq_load(f->dir, &f->config, &m, &err), CF_OK, "%s: %s", f->dir, err.message);
    check_forward(f, m);
    cf_seq2seq_free(m);
}

Test(seq2seq, every_fixture_case)
{
    size_t cases = 0;
    for (size_t fam = 0; fam < sizeof k_families / sizeof *k_families; fam++)
        cases += cf_test_each_case(k_families[fam], check_case, NULL);
    cr_log_info("%zu encoder-decoder cases", cases);
    cr_assert_gt(cases, 0, "no bart/marian cases under %s", cf_test_fixtures());
}

/* ---- bad folders: a clear error naming the key or tensor, never a crash ---- */

/* A copy of a fixture folder (model.safetensors linked) whose config.json has `key` set to
 * the JSON `value` (NULL: removed). Returns the folder; caller removes it. */
static char *edited_case(const char *family, const char *key, const char *value, char *dir, size_t size)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "model.safetensors", &dirs);
    cr_assert_gt(n, 0);
    char path[4200], link_to[4200];
    snprintf(dir, size, "/tmp/cf_seq2seq_bad_XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.json", dirs[0]);
    cJSON *cfg = cf_test_read_json(path);
    cJSON_DeleteItemFromObject(cfg, key);
    if (value)
        cJSON_AddItemToObject(cfg, key, cJSON_Parse(value));
    char *text = cJSON_Print(cfg);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    snprintf(link_to, sizeof link_to, "%s/model.safetensors", dirs[0]);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(symlink(link_to, path), 0);
    free(text);
    cJSON_Delete(cfg);
    cf_test_free_list(dirs, n);
    return dir;
}

static void remove_case(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static void expect_load_error(const char *family, const char *key, const char *value, const char *needle)
{
    char dir[256], path[300];
    edited_case(family, key, value, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_config cfg = {0};
    cf_error err = {0};
    cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK, "%s", err.message);
    cf_seq2seq *m = NULL;
    cf_status s = cf_seq2seq_load(dir, &cfg, &m, &err);
    cr_expect_neq(s, CF_OK, "%s: %s = %s loaded", family, key, value ? value : "(removed)");
    cr_expect(strstr(err.message, needle) != NULL, "%s: %s = %s: message '%s' should mention '%s'", family, key,
              value ? value : "(removed)", err.message, needle);
    cf_seq2seq_free(m);
    cf_config_free(&cfg);
    remove_case(dir);
}

Test(seq2seq, bad_configs_name_the_key)
{
    for (size_t fam = 0; fam < sizeof k_families / sizeof *k_families; fam++) {
        const char *f = k_families[fam];
        expect_load_error(f, "activation_function", "\"cubic\"", "activation_function");
        expect_load_error(f, "d_model", NULL, "d_model");
        expect_load_error(f, "encoder_attention_heads", "7", "encoder_attention_heads");
        expect_load_error(f, "decoder_layers", "0", "decoder_layers");
        expect_load_error(f, "vocab_size", "\"many\"", "vocab_size");
        expect_load_error(f, "pad_token_id", "99999999", "pad_token_id");
        /* a table that disagrees with the config names the tensor */
        expect_load_error(f, "encoder_ffn_dim", "41", "fc1");
        expect_load_error(f, "model_type", "\"bartish\"", "model_type");
    }
}

Test(seq2seq, bad_ids_are_errors)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("bart", "model.safetensors", &dirs);
    cr_assert_gt(n, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dirs[0]);
    cf_config cfg = {0};
    cf_error err = {0};
    cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK, "%s", err.message);
    cf_seq2seq *m = NULL; /* a classification folder loads as the base model too */
    cr_assert_eq(cf_seq2seq_load(dirs[0], &cfg, &m, &err), CF_OK, "%s", err.message);
    {
        int64_t ids[3] = {0, m->arch.enc_vocab, 2}, dec[1] = {2};
        cr_expect_eq(cf_seq2seq_forward(m, ids, 3, dec, 1, NULL, NULL, NULL, NULL, &err), CF_ERR_INVALID_ARG);
        cr_expect(strstr(err.message, "vocabulary") != NULL, "%s", err.message);
        cr_expect_eq(cf_seq2seq_forward(m, ids, 0, dec, 1, NULL, NULL, NULL, NULL, &err), CF_ERR_INVALID_ARG);
        cf_seq2seq_free(m);
    }
    cf_config_free(&cfg);
    cf_test_free_list(dirs, n);
}
