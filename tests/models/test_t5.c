/* T5 against the reference tensors of every t5 fixture case: the stored input_ids through the
 * encoder (encoder_hidden_states.<i>, the last after the final norm), the stored decoder_input_ids
 * through the decoder (decoder_hidden_states.<i>, logits), and the generation interface (prefill of
 * the decoder start token, then one token per step, beams copied and reordered) giving the same
 * logits as the full decoder pass. Bad configurations fail naming the key.
 * Tolerance: |a - b| <= 1e-4 + 1e-4 * |b| (fp32 reference). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/fixture_case.h"
#include "common/testutil.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/seq2seq.h"

static const double k_atol = 1e-4, k_rtol = 1e-4;

typedef struct fixture {
    char dir[4096];
    cf_config cfg;
    cf_safetensors *expected;
    cf_seq2seq *m;
    int64_t *ids, *dec_ids;
    size_t n_ids, n_dec;
} fixture;

static void fixture_open(fixture *f, const char *dir)
{
    cf_error err = {0};
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    f->expected = cf_test_open_expected(dir);
    cf_test_load_config(&f->cfg, dir, "config.json");
    cr_assert(cf_seq2seq_supports(&f->cfg), "%s: not an encoder-decoder config", dir);
    cr_assert_eq(cf_seq2seq_load(dir, &f->cfg, &f->m, &err), CF_OK, "%s", err.message);
    cr_assert_str_eq(f->m->arch.name, "t5");
    f->ids = cf_test_expected_ids(f->expected, "input_ids", &f->n_ids);
    f->dec_ids = cf_test_expected_ids(f->expected, "decoder_input_ids", &f->n_dec);
    cr_assert(f->ids && f->dec_ids, "%s: input_ids / decoder_input_ids missing", dir);
}

static void fixture_close(fixture *f)
{
    free(f->ids);
    free(f->dec_ids);
    cf_seq2seq_free(f->m);
    cf_config_free(&f->cfg);
    cf_st_close(f->expected);
}

/* Encoder and full decoder pass against the stored tensors; returns the logits [n_dec, V]. */
static float *check_forward(fixture *f)
{
    cf_test_tensor_check c = {.case_dir = f->dir, .expected = f->expected, .atol = k_atol, .rtol = k_rtol};
    cf_error err = {0};
    int64_t V = f->m->arch.dec_vocab;
    float *logits = malloc(f->n_dec * (size_t)V * sizeof(float));
    cr_assert_eq(cf_seq2seq_forward(f->m, f->ids, (int64_t)f->n_ids, f->dec_ids, (int64_t)f->n_dec, logits, NULL,
                                    cf_test_check_tensor, &c, &err), CF_OK, "%s", err.message);
    cf_test_check_tensor(&c, "logits", logits, (int64_t)f->n_dec, V);
    cr_expect_geq(c.compared, 5, "%s: too few reference tensors compared (%zu)", f->dir, c.compared);
    cr_expect_eq(c.failed, 0, "%s: %zu of %zu tensors differ", f->dir, c.failed, c.compared);
    return logits;
}

Test(t5, fixture_tensors)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0, "no t5 fixture cases under %s", cf_test_fixtures());
    for (size_t i = 0; i < n; i++) {
        fixture f = {0};
        fixture_open(&f, dirs[i]);
        free(check_forward(&f));
        fixture_close(&f);
    }
    cf_test_free_list(dirs, n);
}

/* Two inputs x 3 copies through open/start/step, teacher-forced with decoder_input_ids: each
 * step's logits equal the full pass's row, and beam reorders keep each sequence's history. Both
 * inputs are the stored input_ids right-padded under the mask (with different filler ids), which
 * must change nothing. */
static void check_incremental(fixture *f, const float *full)
{
    cf_lm lm = cf_seq2seq_as_lm(f->m);
    int64_t V = lm.vocab_size, n = (int64_t)f->n_ids, T = (int64_t)f->n_dec, E = n + 3;
    enum { INPUTS = 2, COPIES = 3, SEQS = INPUTS * COPIES };
    int64_t *enc_ids = malloc((size_t)(INPUTS * E) * sizeof *enc_ids);
    int64_t *mask = malloc((size_t)(INPUTS * E) * sizeof *mask);
    for (int64_t i = 0; i < INPUTS; i++)
        for (int64_t t = 0; t < E; t++) {
            enc_ids[i * E + t] = t < n ? f->ids[t] : 5 * i;
            mask[i * E + t] = t < n;
        }
    cf_lm_limits lim = {.n_inputs = INPUTS, .copies = COPIES, .max_len = T, .enc_len = E};
    void *sess = NULL;
    cf_error err = {0};
    cr_assert_eq(lm.ops->open(lm.model, &lim, &sess, &err), CF_OK, "%s", err.message);
    int64_t start_ids[INPUTS] = {f->dec_ids[0], f->dec_ids[0]};
    cf_lm_inputs in = {.n_inputs = INPUTS, .copies = COPIES, .len = 1, .ids = start_ids, .enc_len = E,
                       .enc_ids = enc_ids, .enc_mask = mask};
    float *logits = malloc((size_t)(SEQS * V) * sizeof *logits);
    cr_assert_eq(lm.ops->start(sess, &in, logits, &err), CF_OK, "%s", err.message);
    int32_t src[SEQS] = {2, 0, 1, 5, 3, 4}; /* a rotation within each input's beams */
    int64_t tokens[SEQS];
    for (int64_t t = 0; t < T; t++) {
        for (int s = 0; s < SEQS; s++) {
            double worst = 0;
            size_t at = 0;
            bool ok = cf_test_allclose(logits + s * V, full + t * V, (size_t)V, k_atol, k_rtol, &worst, &at);
            cr_expect(ok, "%s: step %lld sequence %d logits differ from the full pass (|diff| %.3g at %zu)", f->dir,
                      (long long)t, s, worst, at);
        }
        if (t + 1 == T)
            break;
        for (int s = 0; s < SEQS; s++)
            tokens[s] = f->dec_ids[t + 1];
        cr_assert_eq(lm.ops->step(sess, tokens, t % 2 ? src : NULL, logits, &err), CF_OK, "%s", err.message);
    }
    lm.ops->close(sess);
    free(logits);
    free(enc_ids);
    free(mask);
}

Test(t5, generation_interface_matches_full_pass)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        fixture f = {0};
        fixture_open(&f, dirs[i]);
        float *logits = check_forward(&f);
        check_incremental(&f, logits);
        free(logits);
        fixture_close(&f);
    }
    cf_test_free_list(dirs, n);
}

/* ------------------------------------------------------------- bad input ---- */

static cf_status load_with(const char *dir, const char *key, cJSON *value, cf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_config cfg;
    cr_assert_eq(cf_config_load(&cfg, path, err), CF_OK, "%s", err->message);
    cJSON_ReplaceItemInObject(cfg.root, key, value);
    cf_seq2seq *m = NULL;
    cf_status s = cf_seq2seq_load(dir, &cfg, &m, err);
    cf_seq2seq_free(m);
    cf_config_free(&cfg);
    return s;
}

Test(t5, bad_config_names_the_key)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "config.json", &dirs);
    cr_assert_gt(n, 0);
    cf_error err = {0};
    cr_expect_neq(load_with(dirs[0], "feed_forward_proj", cJSON_CreateString("gated-gelu-relu"), &err), CF_OK);
    cr_expect(strstr(err.message, "feed_forward_proj"), "%s", err.message);
    cr_expect_neq(load_with(dirs[0], "feed_forward_proj", cJSON_CreateString("mish"), &err), CF_OK);
    cr_expect(strstr(err.message, "feed_forward_proj"), "%s", err.message);
    cr_expect_neq(load_with(dirs[0], "num_heads", cJSON_CreateNumber(0), &err), CF_OK);
    cr_expect(strstr(err.message, "num_heads"), "%s", err.message);
    cr_expect_neq(load_with(dirs[0], "relative_attention_num_buckets", cJSON_CreateNumber(3), &err), CF_OK);
    cr_expect(strstr(err.message, "relative_attention_num_buckets"), "%s", err.message);
    cr_expect_neq(load_with(dirs[0], "relative_attention_max_distance", cJSON_CreateNumber(1), &err), CF_OK);
    cr_expect(strstr(err.message, "relative_attention_max_distance"), "%s", err.message);
    /* a d_kv the checkpoint does not have: the error names the tensor and both shapes */
    cr_expect_neq(load_with(dirs[0], "d_kv", cJSON_CreateNumber(7), &err), CF_OK);
    cr_expect(strstr(err.message, "SelfAttention.q.weight"), "%s", err.message);
    cf_test_free_list(dirs, n);
}

Test(t5, out_of_vocabulary_ids_are_an_error)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("t5", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0);
    fixture f = {0};
    fixture_open(&f, dirs[0]);
    cf_error err = {0};
    int64_t V = f.m->arch.dec_vocab, ids[2] = {5, V}, start = 0;
    float *logits = malloc((size_t)V * sizeof *logits);
    cr_expect_eq(cf_seq2seq_forward(f.m, ids, 2, &start, 1, logits, NULL, NULL, NULL, &err), CF_ERR_INVALID_ARG);
    cr_expect(strstr(err.message, "vocabulary"), "%s", err.message);
    cr_expect_eq(cf_seq2seq_forward(f.m, ids, 0, &start, 1, logits, NULL, NULL, NULL, &err), CF_ERR_INVALID_ARG);
    cr_expect_eq(cf_seq2seq_forward(f.m, ids, 1, &ids[1], 1, logits, NULL, NULL, NULL, &err), CF_ERR_INVALID_ARG);
    free(logits);
    fixture_close(&f);
    cf_test_free_list(dirs, n);
}

/* ------------------------------------------ attention width != d_model ---- */

#include <unistd.h>

static void add_random(cf_st_writer *w, const char *name, int64_t rows, int64_t cols, uint64_t *rng)
{
    cf_tensor t;
    cf_error err = {0};
    int64_t shape[2] = {rows, cols};
    cr_assert_eq(cf_tensor_alloc(&t, CF_DTYPE_F32, cols ? 2 : 1, shape, &err), CF_OK, "%s", err.message);
    float *p = t.data;
    for (int64_t i = 0; i < cf_tensor_numel(&t); i++) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)(*rng >> 40) / (float)(1ull << 24) - 0.5f;
    }
    cr_assert_eq(cf_st_writer_add(w, name, &t, &err), CF_OK, "%s", err.message);
    cf_tensor_free(&t);
}

/* A random T5 whose heads are narrower than d_model (d 16, 3 heads x 4 = 12, as t5-3b's 32 x 128
 * against 1024): the generation interface must agree with the full pass. */
Test(t5, attention_width_differs_from_d_model)
{
    enum { D = 16, HEADS = 3, DKV = 4, FF = 8, V = 40, ENC_LAYERS = 1, DEC_LAYERS = 2 };
    char dir[] = "/tmp/cf_t5_narrow_XXXXXX";
    cr_assert(mkdtemp(dir));
    uint64_t rng = 7;
    cf_st_writer *w = cf_st_writer_new();
    char name[256];
    add_random(w, "shared.weight", V, D, &rng);
    for (int side = 0; side < 2; side++) {
        const char *stack = side ? "decoder" : "encoder";
        for (int l = 0; l < (side ? DEC_LAYERS : ENC_LAYERS); l++) {
            int n_sub = side ? 3 : 2;
            const char *attn[2] = {"0.SelfAttention", "1.EncDecAttention"};
            for (int a = 0; a < (side ? 2 : 1); a++) {
                const char *parts[] = {"q", "k", "v"};
                for (int k = 0; k < 3; k++) {
                    snprintf(name, sizeof name, "%s.block.%d.layer.%s.%s.weight", stack, l, attn[a], parts[k]);
                    add_random(w, name, HEADS * DKV, D, &rng);
                }
                snprintf(name, sizeof name, "%s.block.%d.layer.%s.o.weight", stack, l, attn[a]);
                add_random(w, name, D, HEADS * DKV, &rng);
            }
            for (int k = 0; k < n_sub; k++) {
                snprintf(name, sizeof name, "%s.block.%d.layer.%d.layer_norm.weight", stack, l, k);
                add_random(w, name, D, 0, &rng);
            }
            snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.wi.weight", stack, l, n_sub - 1);
            add_random(w, name, FF, D, &rng);
            snprintf(name, sizeof name, "%s.block.%d.layer.%d.DenseReluDense.wo.weight", stack, l, n_sub - 1);
            add_random(w, name, D, FF, &rng);
        }
        snprintf(name, sizeof name, "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", stack);
        add_random(w, name, 8, HEADS, &rng);
        snprintf(name, sizeof name, "%s.final_layer_norm.weight", stack);
        add_random(w, name, D, 0, &rng);
    }
    char path[256];
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(cf_st_writer_save(w, path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);
    char json[512];
    snprintf(json, sizeof json,
             "{\"model_type\":\"t5\",\"d_model\":%d,\"d_kv\":%d,\"d_ff\":%d,\"num_heads\":%d,\"num_layers\":%d,"
             "\"num_decoder_layers\":%d,\"vocab_size\":%d,\"relative_attention_num_buckets\":8,"
             "\"relative_attention_max_distance\":6}",
             D, DKV, FF, HEADS, ENC_LAYERS, DEC_LAYERS, V);
    cf_config cfg;
    cr_assert_eq(cf_config_parse(&cfg, json, strlen(json), "config.json", &err), CF_OK, "%s", err.message);
    fixture f = {.cfg = cfg};
    snprintf(f.dir, sizeof f.dir, "%s", dir);
    cr_assert_eq(cf_seq2seq_load(dir, &cfg, &f.m, &err), CF_OK, "%s", err.message);
    int64_t ids[11] = {3, 9, 17, 4, 22, 31, 8, 8, 15, 2, 1}, dec[7] = {0, 5, 12, 39, 7, 7, 20};
    f.ids = ids, f.dec_ids = dec, f.n_ids = 11, f.n_dec = 7;
    float *logits = malloc((size_t)(7 * V) * sizeof *logits);
    cr_assert_eq(cf_seq2seq_forward(f.m, ids, 11, dec, 7, logits, NULL, NULL, NULL, &err), CF_OK, "%s",
                 err.message);
    check_incremental(&f, logits);
    free(logits);
    cf_seq2seq_free(f.m);
    cf_config_free(&cfg);
    unlink(path);
    rmdir(dir);
}
