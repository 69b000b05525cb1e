/* Speech models against the reference tensors of every fixture case.
 *   wav2vec2/<case>: the stored input_values are run through the model of the case's head and
 *     extract_features, every hidden_states.<i> and logits are compared.
 *   whisper/<case>: the stored input_features run through the encoder (encoder_hidden_states.<i>),
 *     the stored decoder_input_ids through the decoder (decoder_hidden_states.<i>, logits), and
 *     greedy generation reproduces the stored sequences (generate_*.sequences) exactly.
 * Tolerance: |a - b| <= 1e-4 + 1e-4 * |b| (fp32 reference; NOTE.md). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/safetensors.h"
#include "models/wav2vec2.h"
#include "common/fixture_case.h"
#include "common/testutil.h"

static const double k_atol = 1e-4, k_rtol = 1e-4;

/* The case folder's config and the wav2vec2 model of its head. */
static cf_wav2vec2 *load_wav2vec2(const char *dir, cf_config *cfg)
{
    cf_test_load_config(cfg, dir, "config.json");
    cf_wav2vec2 *m = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_wav2vec2_load(dir, cfg, cf_wav2vec2_head_from_config(cfg), &m, &err), CF_OK, "%s", err.message);
    return m;
}

/* The model of the first wav2vec2 case folder that has `marker_file`. */
static cf_wav2vec2 *load_first_wav2vec2(const char *marker_file, cf_config *cfg)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("wav2vec2", marker_file, &dirs);
    cr_assert_gt(n, 0);
    cf_wav2vec2 *m = load_wav2vec2(dirs[0], cfg);
    cf_test_free_list(dirs, n);
    return m;
}

static void run_wav2vec2_case(const char *dir)
{
    cf_safetensors *expected = cf_test_open_expected(dir);
    cf_error err = {0};
    size_t n = 0;
    float *input = cf_test_expected_f32(expected, "input_values", &n);
    if (!input) { /* a classification case without stored tensors: the pipeline test covers it */
        cf_st_close(expected);
        return;
    }
    cf_config cfg;
    cf_wav2vec2 *m = load_wav2vec2(dir, &cfg);
    cf_test_tensor_check c = {.case_dir = dir, .expected = expected, .atol = k_atol, .rtol = k_rtol};
    cf_wav2vec2_output out;
    cr_assert_eq(cf_wav2vec2_forward(m, input, (int64_t)n, cf_test_check_tensor, &c, &out, &err), CF_OK, "%s", err.message);
    cr_expect_gt(c.compared, 2, "%s: too few reference tensors compared (%zu)", dir, c.compared);
    cr_expect_eq(c.failed, 0, "%s: %zu of %zu tensors differ", dir, c.failed, c.compared);
    /* the same clip again: a reused arena must give the same logits */
    float *first = malloc((size_t)(out.rows * out.cols) * sizeof(float));
    memcpy(first, out.logits, (size_t)(out.rows * out.cols) * sizeof(float));
    cr_assert_eq(cf_wav2vec2_forward(m, input, (int64_t)n, NULL, NULL, &out, &err), CF_OK, "%s", err.message);
    cr_expect(!memcmp(first, out.logits, (size_t)(out.rows * out.cols) * sizeof(float)), "%s: rerun differs", dir);
    free(first);
    free(input);
    cf_wav2vec2_free(m);
    cf_config_free(&cfg);
    cf_st_close(expected);
}

Test(wav2vec2, fixture_tensors)
{
    size_t n = cf_test_run_cases("wav2vec2", "expected.safetensors", run_wav2vec2_case);
    cr_assert_gt(n, 0, "no wav2vec2 fixture cases under %s", cf_test_fixtures());
}

Test(wav2vec2, too_short_clip_is_an_error)
{
    cf_config cfg;
    cf_wav2vec2 *m = load_first_wav2vec2("expected.json", &cfg);
    cf_error err = {0};
    float samples[8] = {0};
    cf_wav2vec2_output out;
    cr_expect_eq(cf_wav2vec2_forward(m, samples, 8, NULL, NULL, &out, &err), CF_ERR_INVALID_ARG);
    cr_expect(strstr(err.message, "receptive field") != NULL, "%s", err.message);
    cf_wav2vec2_free(m);
    cf_config_free(&cfg);
}

/* ------------------------------------------------------- padded batches ---- */

/* A deterministic speech-like test signal: two tones and a little pseudo-noise. */
static float *test_signal(size_t n)
{
    float *x = malloc(n * sizeof *x);
    uint32_t r = 12345;
    for (size_t i = 0; i < n; i++) {
        r = r * 1103515245u + 12345u;
        double t = (double)i / 16000.0;
        x[i] = (float)(0.5 * sin(2 * M_PI * 220 * t) + 0.3 * sin(2 * M_PI * 1375 * t) +
                       0.1 * ((double)(r >> 8) / 16777216.0 - 0.5));
    }
    return x;
}

/* out (malloc'ed copy) = rows [0, rows) of one forward's output */
static float *forward_copy(cf_wav2vec2 *m, const float *x, int64_t batch, int64_t n, const int64_t *valid,
                           cf_wav2vec2_output *o)
{
    cf_error err = {0};
    cr_assert_eq(cf_wav2vec2_forward_batch(m, x, batch, n, valid, NULL, NULL, o, &err), CF_OK, "%s", err.message);
    size_t count = (size_t)(o->rows * o->cols);
    float *copy = malloc(count * sizeof *copy);
    memcpy(copy, o->logits, count * sizeof *copy);
    return copy;
}

static void expect_close(const char *dir, const char *what, const float *got, const float *want, size_t n)
{
    double worst = 0;
    size_t at = 0;
    cr_expect(cf_test_allclose(got, want, n, k_atol, k_rtol, &worst, &at), "%s: %s: |diff| %.3g at %zu", dir, what,
              worst, at);
}

/* Wav2Vec2Model(input_values, attention_mask) on [full clip, shorter clip + zeros]:
 *   row 0 (no padding) equals the clip run alone, with or without the mask;
 *   without a mask, row 1 equals its padded clip run alone (the padding is audio);
 *   with the mask, a "layer" model's row 1 equals the shorter clip run alone on its real frames
 *   (a "group" model normalises over the padding too, so transformers' own outputs differ there). */
static void check_padded_batch(const char *dir)
{
    cf_config cfg;
    cf_wav2vec2 *m = load_wav2vec2(dir, &cfg);
    bool layer_norm = !strcmp(cf_config_str(&cfg, "feat_extract_norm", "group"), "layer");
    const int64_t n = 16000, n_short = 10000;
    float *batch = calloc(2 * (size_t)n, sizeof *batch), *clip = test_signal((size_t)n);
    memcpy(batch, clip, (size_t)n * sizeof *batch);
    memcpy(batch + n, clip, (size_t)n_short * sizeof *batch);
    cf_wav2vec2_output full, one_short, padded, masked, plain;
    float *want_full = forward_copy(m, clip, 1, n, NULL, &full);
    float *want_short = forward_copy(m, clip, 1, n_short, NULL, &one_short);
    float *want_padded = forward_copy(m, batch + n, 1, n, NULL, &padded);
    const int64_t valid[2] = {n, n_short};
    float *got_masked = forward_copy(m, batch, 2, n, valid, &masked);
    float *got_plain = forward_copy(m, batch, 2, n, NULL, &plain);
    size_t row = (size_t)(full.rows * full.cols); /* one clip's output */
    cr_assert_eq(masked.rows * masked.cols, 2 * (int64_t)row);
    expect_close(dir, "masked row 0 vs alone", got_masked, want_full, row);
    expect_close(dir, "unmasked row 0 vs alone", got_plain, want_full, row);
    expect_close(dir, "unmasked row 1 vs its padded clip alone", got_plain + row, want_padded, row);
    if (layer_norm && one_short.frames == one_short.rows) /* frame outputs (CTC/base): the real frames */
        expect_close(dir, "masked row 1 vs the short clip alone", got_masked + row, want_short,
                     (size_t)(one_short.rows * one_short.cols));
    free(want_full);
    free(want_short);
    free(want_padded);
    free(got_masked);
    free(got_plain);
    free(batch);
    free(clip);
    cf_wav2vec2_free(m);
    cf_config_free(&cfg);
}

Test(wav2vec2, padded_batches_match_single_clips)
{
    cr_assert_gt(cf_test_run_cases("wav2vec2", "config.json", check_padded_batch), 0);
}

Test(wav2vec2, bad_attention_mask_is_an_error)
{
    cf_config cfg;
    cf_wav2vec2 *m = load_first_wav2vec2("config.json", &cfg);
    cf_error err = {0};
    float *x = test_signal(4000);
    cf_wav2vec2_output out;
    const int64_t too_long[1] = {5000}, too_short[1] = {10};
    cr_expect_eq(cf_wav2vec2_forward_batch(m, x, 1, 4000, too_long, NULL, NULL, &out, &err), CF_ERR_INVALID_ARG);
    cr_expect(strstr(err.message, "5000") != NULL, "%s", err.message);
    cr_expect_eq(cf_wav2vec2_forward_batch(m, x, 1, 4000, too_short, NULL, NULL, &out, &err), CF_ERR_INVALID_ARG);
    cr_expect(strstr(err.message, "receptive field") != NULL, "%s", err.message);
    free(x);
    cf_wav2vec2_free(m);
    cf_config_free(&cfg);
}

/* ---------------------------------------------------------------- whisper ---- */

#include "generation/generate.h"
#include "models/whisper.h"

static void run_whisper_forward(const char *dir, cf_whisper *m, const cf_safetensors *expected, const float *features)
{
    cf_test_tensor_check c = {.case_dir = dir, .expected = expected, .atol = k_atol, .rtol = k_rtol};
    cf_error err = {0};
    int64_t L = cf_whisper_enc_len(m), d = cf_whisper_hidden(m), V = cf_whisper_vocab(m);
    float *enc = malloc((size_t)(L * d) * sizeof(float));
    cr_assert_eq(cf_whisper_encode(m, features, enc, cf_test_check_tensor, &c, &err), CF_OK, "%s", err.message);
    size_t n = 0;
    int64_t *ids = cf_test_expected_ids(expected, "decoder_input_ids", &n);
    if (ids) {
        float *logits = malloc(n * (size_t)V * sizeof(float));
        cr_assert_eq(cf_whisper_decode_full(m, enc, ids, (int64_t)n, logits, cf_test_check_tensor, &c, &err), CF_OK, "%s",
                     err.message);
        free(logits);
        free(ids);
    }
    cr_expect_gt(c.compared, 3, "%s: too few reference tensors compared (%zu)", dir, c.compared);
    cr_expect_eq(c.failed, 0, "%s: %zu of %zu tensors differ", dir, c.failed, c.compared);
    free(enc);
}

static void check_whisper_case(cf_test_case *c, void *ctx)
{
    cf_whisper *m = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_whisper_load(c->dir, &c->config, &m, &err), CF_OK, "%s", err.message);
    size_t nf = 0;
    float *features = cf_test_expected_f32(c->exp, "input_features", &nf);
    cr_assert(features, "%s: no input_features", c->dir);
    cr_assert_eq(nf, (size_t)(cf_whisper_n_mels(m) * cf_whisper_n_frames(m)));
    run_whisper_forward(c->dir, m, c->exp, features);
    free(features);
    cf_whisper_free(m);
}

Test(whisper, fixture_tensors)
{
    size_t n = cf_test_each_case("whisper", check_whisper_case, NULL);
    cr_assert_gt(n, 0, "no whisper fixture cases under %s", cf_test_fixtures());
}
