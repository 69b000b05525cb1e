/* generate() over the encoder-decoders (BART, Marian) against transformers 4.35.2: for every
 * case under ${CFORMER_FIXTURES}/{bart,marian}/ whose expected.safetensors has greedy.sequences
 * or beam.sequences, generating from input_ids must give exactly those ids.
 * Settings are the folder's (config.json / generation_config.json) with the overrides each
 * family's NOTE.md names: greedy = num_beams 1; BART's beam = num_beams 4, min_length 6,
 * no_repeat_ngram_size 3, length_penalty 2.0, early_stopping; Marian's beam = the config's
 * (num_beams 4). max_length = the longest expected sequence (the sequences run to max_length). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture_case.h"
#include "common/testutil.h"
#include "generation/generate.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/seq2seq.h"

static const char *const k_families[] = {"bart", "marian"};

typedef cf_test_case fixture;

/* ---------------------------------------------------------------- generation ---- */

static int64_t longest_sequence(const fixture *f)
{
    int64_t a = 0, b = 0;
    cf_test_case_ids(f, "greedy.sequences", &a);
    cf_test_case_ids(f, "beam.sequences", &b);
    return a > b ? a : b;
}

static void settings(const fixture *f, const cf_seq2seq *m, bool beam, cf_gen_config *g)
{
    cf_error err = {0};
    cr_assert_eq(cf_gen_config_load(g, f->dir, &f->config, NULL, &err), CF_OK, "%s", err.message);
    const char *overrides = "{\"num_beams\": 1}";
    if (beam && !strcmp(f->family, "bart"))
        overrides = "{\"num_beams\": 4, \"min_length\": 6, \"no_repeat_ngram_size\": 3, \"length_penalty\": 2.0, "
                    "\"early_stopping\": true}";
    else if (beam)
        overrides = "{}";
    cJSON *o = cJSON_Parse(overrides);
    cJSON_AddNumberToObject(o, "max_length", (double)longest_sequence(f));
    cr_assert_eq(cf_gen_config_apply_json(g, o, true, "test", &err), CF_OK, "%s", err.message);
    cJSON_Delete(o);
    if (g->decoder_start_token_id < 0)
        g->decoder_start_token_id = m->decoder_start_id;
}

static void check_generation(const fixture *f, const cf_seq2seq *m, const char *name, bool beam)
{
    int64_t n_want, n_in;
    const int64_t *want = cf_test_case_ids(f, name, &n_want), *ids = cf_test_case_ids(f, "input_ids", &n_in);
    if (!want)
        return;
    cf_gen_config g;
    settings(f, m, beam, &g);
    int64_t start = g.decoder_start_token_id, one = 1;
    const int64_t *prompts[1] = {&start};
    cf_gen_request req = {.cfg = &g, .n_inputs = 1, .prompts = prompts, .prompt_lens = &one, .enc_len = n_in,
                          .enc_ids = ids};
    cf_lm lm = cf_seq2seq_as_lm(m);
    cf_gen_result res = {0};
    cf_error err = {0};
    cr_assert_eq(cf_generate(&lm, &req, &res, &err), CF_OK, "%s: %s: %s", f->dir, name, err.message);
    bool same = res.lens[0] == n_want && !memcmp(res.ids[0], want, (size_t)n_want * sizeof *want);
    char got_s[1024] = "", want_s[1024] = "";
    for (int64_t i = 0, a = 0, b = 0; i < res.lens[0] || i < n_want; i++) {
        if (i < res.lens[0] && a < 1000)
            a += snprintf(got_s + a, sizeof got_s - (size_t)a, "%lld ", (long long)res.ids[0][i]);
        if (i < n_want && b < 1000)
            b += snprintf(want_s + b, sizeof want_s - (size_t)b, "%lld ", (long long)want[i]);
    }
    cr_expect(same, "%s: %s:\n got  %s\n want %s", f->dir, name, got_s, want_s);
    cf_gen_result_free(&res);
    cf_gen_config_free(&g);
}

static void generate_case(cf_test_case *f, void *checked)
{
    if (longest_sequence(f) <= 0)
        return;
    cf_seq2seq *m = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_seq2seq_load(f->dir, &f->config, &m, &err), CF_OK, "%s: %s", f->dir, err.message);
    check_generation(f, m, "greedy.sequences", false);
    check_generation(f, m, "beam.sequences", true);
    ++*(size_t *)checked;
    cf_seq2seq_free(m);
}

Test(seq2seq_generation, greedy_and_beam_sequences)
{
    size_t checked = 0;
    for (size_t fam = 0; fam < sizeof k_families / sizeof *k_families; fam++)
        cf_test_each_case(k_families[fam], generate_case, &checked);
    cr_log_info("%zu encoder-decoder cases generated", checked);
    cr_assert_gt(checked, 0, "no bart/marian generation cases under %s", cf_test_fixtures());
}
