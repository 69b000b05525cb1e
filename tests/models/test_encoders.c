/* Encoder models (BERT, DistilBERT, RoBERTa) against the reference tensors of every fixture
 * case: each direct forward stored in expected.safetensors ("" and any "<prefix>." group that
 * has its own input_ids) is rerun from its stored ids, and every float tensor the file holds
 * is compared. Tolerance: |a - b| <= 1e-4 + 1e-4 * |b| (fixtures NOTE.md: fp32 reference). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/safetensors.h"
#include "models/encoder.h"
#include "common/fixture_case.h"
#include "common/testutil.h"

static const double k_atol = 1e-4, k_rtol = 1e-4;
static const char *const k_families[] = {"bert", "distilbert", "roberta"};

typedef cf_test_tensor_check check_ctx;

static void on_hidden(void *ctx, int index, const float *h, int64_t rows, int64_t dim)
{
    char name[64];
    if (index == 0)
        snprintf(name, sizeof name, "embeddings");
    else
        snprintf(name, sizeof name, "hidden_states.%d", index);
    cf_test_check_values(ctx, name, h, (size_t)(rows * dim));
}

static cf_encoder_head head_of(const cf_config *cfg)
{
    const char *arch = cf_config_str(cfg, "architectures.0", "");
    if (strstr(arch, "ForSequenceClassification"))
        return CF_HEAD_SEQUENCE_CLASSIFICATION;
    if (strstr(arch, "ForTokenClassification"))
        return CF_HEAD_TOKEN_CLASSIFICATION;
    if (strstr(arch, "ForQuestionAnswering"))
        return CF_HEAD_QUESTION_ANSWERING;
    if (strstr(arch, "ForMaskedLM"))
        return CF_HEAD_MASKED_LM;
    return CF_HEAD_BASE;
}

static const int64_t *ids_of(const cf_safetensors *st, const char *prefix, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const cf_tensor *t = cf_st_find(st, full);
    if (!t)
        return NULL;
    cr_assert_eq(t->dtype, CF_DTYPE_I64, "%s must be int64", full);
    return t->data;
}

/* The head's outputs under their reference names. */
static void compare_heads(check_ctx *c, cf_encoder *m, const cf_encoder_output *o, int64_t batch, int64_t seq)
{
    int64_t h = cf_encoder_hidden_size(m), t = batch * seq;
    cf_test_check_values(c, "last_hidden_state", o->last_hidden_state, (size_t)(t * h));
    if (o->pooler_output)
        cf_test_check_values(c, "pooler_output", o->pooler_output, (size_t)(batch * h));
    switch (cf_encoder_head_kind(m)) {
    case CF_HEAD_BASE: break;
    case CF_HEAD_SEQUENCE_CLASSIFICATION:
    case CF_HEAD_TOKEN_CLASSIFICATION:
        cf_test_check_values(c, "logits", o->logits, (size_t)(o->logits_rows * o->logits_cols));
        break;
    case CF_HEAD_QUESTION_ANSWERING: {
        float *start = malloc((size_t)t * sizeof(float)), *end = malloc((size_t)t * sizeof(float));
        for (int64_t i = 0; i < t; i++) {
            start[i] = o->logits[2 * i];
            end[i] = o->logits[2 * i + 1];
        }
        cf_test_check_values(c, "start_logits", start, (size_t)t);
        cf_test_check_values(c, "end_logits", end, (size_t)t);
        free(start);
        free(end);
        break;
    }
    case CF_HEAD_MASKED_LM: {
        int64_t v = o->logits_cols, cols = 256 < v ? 256 : v;
        float *head = malloc((size_t)(t * cols) * sizeof(float));
        for (int64_t r = 0; r < t; r++)
            memcpy(head + r * cols, o->logits + r * v, (size_t)cols * sizeof(float));
        cf_test_check_values(c, "logits_vocab_0_256", head, (size_t)(t * cols));
        free(head);
        char name[256];
        snprintf(name, sizeof name, "%smask_positions", c->prefix);
        const cf_tensor *pos = cf_st_find(c->expected, name);
        if (pos) {
            int64_t n = cf_tensor_numel(pos);
            const int64_t *p = pos->data;
            float *rows = malloc((size_t)(n * v) * sizeof(float));
            for (int64_t i = 0; i < n; i++) {
                cr_assert(p[i] >= 0 && p[i] < t, "%s: mask position %lld out of range", c->case_dir, (long long)p[i]);
                memcpy(rows + i * v, o->logits + p[i] * v, (size_t)v * sizeof(float));
            }
            cf_test_check_values(c, "logits_at_mask_positions", rows, (size_t)(n * v));
            free(rows);
        }
        break;
    }
    }
}

/* One forward group: the tensors named "<prefix>input_ids", ... */
static void run_group(cf_encoder *m, const char *case_dir, const cf_safetensors *expected, const char *prefix,
                      size_t *compared, size_t *failed)
{
    char name[256];
    snprintf(name, sizeof name, "%sinput_ids", prefix);
    const cf_tensor *ids = cf_st_find(expected, name);
    cr_assert(ids && ids->ndim == 2, "%s: %s must be [batch, seq]", case_dir, name);
    int64_t batch = ids->shape[0], seq = ids->shape[1];
    check_ctx c = {.case_dir = case_dir, .prefix = prefix, .expected = expected, .atol = k_atol, .rtol = k_rtol};
    cf_encoder_input in = {
        .batch = batch, .seq = seq, .input_ids = ids_of(expected, prefix, "input_ids"),
        .attention_mask = ids_of(expected, prefix, "attention_mask"),
        .token_type_ids = ids_of(expected, prefix, "token_type_ids"), .on_hidden = on_hidden, .on_hidden_ctx = &c,
    };
    cf_error err = {0};
    cr_assert_eq(cf_encoder_reserve(m, batch, seq, batch * seq, &err), CF_OK, "%s", err.message);
    cf_encoder_output o;
    cr_assert_eq(cf_encoder_forward(m, &in, &o, &err), CF_OK, "%s: %s", case_dir, err.message);
    compare_heads(&c, m, &o, batch, seq);
    *compared += c.compared;
    *failed += c.failed;
}

/* Float tensors of the file that belong to `prefix` (and not to a longer prefix). */
static size_t float_tensors(const cf_safetensors *st, const char *prefix)
{
    size_t n = 0, plen = strlen(prefix);
    for (size_t i = 0; i < cf_st_count(st); i++) {
        const char *name = cf_st_name(st, i);
        if (cf_st_at(st, i)->dtype != CF_DTYPE_F32 || strncmp(name, prefix, plen))
            continue;
        const char *rest = name + plen;
        bool own = plen > 0 || !strchr(rest, '.') || !strncmp(rest, "hidden_states.", 14);
        n += own;
    }
    return n;
}

static void run_case(const char *dir)
{
    char path[4200];
    cf_error err = {0};
    cf_config cfg = {0};
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK, "%s", err.message);
    cf_encoder *m = NULL;
    cr_assert_eq(cf_encoder_load(dir, &cfg, head_of(&cfg), &m, &err), CF_OK, "%s: %s", dir, err.message);
    cf_safetensors *expected = NULL;
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    cr_assert_eq(cf_st_open(path, &expected, &err), CF_OK, "%s", err.message);
    for (size_t i = 0; i < cf_st_count(expected); i++) {
        const char *name = cf_st_name(expected, i);
        size_t len = strlen(name);
        if (len < 9 || strcmp(name + len - 9, "input_ids"))
            continue;
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(len - 9), name);
        size_t compared = 0, failed = 0;
        run_group(m, dir, expected, prefix, &compared, &failed);
        size_t stored = float_tensors(expected, prefix);
        cr_expect_eq(compared, stored, "%s: compared %zu of the %zu float tensors of group '%s'", dir, compared,
                     stored, prefix);
        cr_log_info("%s [%s]: %zu tensors compared, %zu differ", dir, prefix, compared, failed);
    }
    cf_st_close(expected);
    cf_encoder_free(m);
    cf_config_free(&cfg);
}

Test(encoders, every_fixture_case)
{
    size_t total = 0;
    for (size_t f = 0; f < sizeof k_families / sizeof k_families[0]; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(k_families[f], "expected.safetensors", &dirs);
        for (size_t i = 0; i < n; i++)
            run_case(dirs[i]);
        total += n;
        cf_test_free_list(dirs, n);
    }
    cr_assert_gt(total, 0, "no encoder fixture cases under %s", cf_test_fixtures());
}

Test(encoders, batch_must_fit_reserved_arena)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("bert", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0);
    char path[4200];
    cf_error err = {0};
    cf_config cfg = {0};
    snprintf(path, sizeof path, "%s/config.json", dirs[0]);
    cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK);
    cf_encoder *m = NULL;
    cr_assert_eq(cf_encoder_load(dirs[0], &cfg, head_of(&cfg), &m, &err), CF_OK, "%s", err.message);
    int64_t seq = cf_encoder_max_tokens(m);
    int64_t *ids = calloc((size_t)(64 * seq), sizeof(int64_t));
    cf_encoder_input in = {.batch = 64, .seq = seq, .input_ids = ids};
    cf_encoder_output o;
    cr_expect_eq(cf_encoder_forward(m, &in, &o, &err), CF_ERR_INVALID_ARG, "an unreserved big batch must be refused");
    cr_expect(strstr(err.message, "cf_encoder_reserve") != NULL, "message: %s", err.message);
    in.batch = 1;
    in.seq = seq + 1;
    cr_assert_eq(cf_encoder_reserve(m, 1, seq + 1, seq + 1, &err), CF_OK);
    cr_expect_eq(cf_encoder_forward(m, &in, &o, &err), CF_ERR_INVALID_ARG, "longer than the positions");
    cr_expect(strstr(err.message, "max_position_embeddings") != NULL, "message: %s", err.message);
    in.seq = 4;
    ids[2] = cf_encoder_vocab_size(m);
    cr_expect_eq(cf_encoder_forward(m, &in, &o, &err), CF_ERR_INVALID_ARG, "out-of-vocabulary id");
    cr_expect(strstr(err.message, "vocabulary") != NULL, "message: %s", err.message);
    free(ids);
    cf_encoder_free(m);
    cf_config_free(&cfg);
    cf_test_free_list(dirs, n);
}

Test(encoders, unsupported_config_names_the_key)
{
    cf_config cfg = {0};
    cf_error err = {0};
    const char *json = "{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\"}";
    cr_assert_eq(cf_config_parse(&cfg, json, strlen(json), "config.json", &err), CF_OK);
    char **dirs = NULL;
    size_t n = cf_test_cases("bert", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0);
    cf_encoder *m = NULL;
    cr_expect_neq(cf_encoder_load(dirs[0], &cfg, CF_HEAD_BASE, &m, &err), CF_OK);
    cr_expect(strstr(err.message, "position_embedding_type") != NULL, "message: %s", err.message);
    cf_config_free(&cfg);
    cf_test_free_list(dirs, n);
}
