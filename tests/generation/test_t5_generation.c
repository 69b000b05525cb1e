/* T5 decoding end to end through cf_generate on every t5 fixture case: the stored input_ids as
 * encoder input, decoding from decoder_start_token_id with the model folder's generation settings
 * (config.json, generation_config.json) and max_length = the stored sequence length:
 *   greedy.sequences  num_beams 1
 *   beam.sequences    num_beams 4 with the rest of task_specific_params.summarization (length_penalty,
 *                     min_length, no_repeat_ngram_size, early_stopping); the stored sequences repeat
 *                     no trigram, which only those settings give
 * Token ids must be equal. */
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

static void check_sequence(const char *dir, const cf_seq2seq *m, const cf_config *cfg, const cf_safetensors *expected,
                           const char *name, const char *task, int64_t num_beams)
{
    size_t n_want = 0, n_in = 0;
    int64_t *want = cf_test_expected_ids(expected, name, &n_want), *input = cf_test_expected_ids(expected, "input_ids", &n_in);
    cr_assert(want && input, "%s: %s or input_ids missing", dir, name);
    cf_error err = {0};
    cf_gen_config g;
    cr_assert_eq(cf_gen_config_load(&g, dir, cfg, task, &err), CF_OK, "%s", err.message);
    g.max_length = (int64_t)n_want;
    g.num_beams = num_beams;
    int64_t start = m->decoder_start_id, prompt_len = 1;
    const int64_t *prompts[1] = {&start};
    cf_gen_request req = {.cfg = &g, .n_inputs = 1, .prompts = prompts, .prompt_lens = &prompt_len,
                          .enc_len = (int64_t)n_in, .enc_ids = input};
    cf_lm lm = cf_seq2seq_as_lm(m);
    cf_gen_result r;
    cr_assert_eq(cf_generate(&lm, &req, &r, &err), CF_OK, "%s", err.message);
    cr_assert_eq(r.n_seqs, 1);
    bool same = (size_t)r.lens[0] == n_want && !memcmp(r.ids[0], want, n_want * sizeof *want);
    char got_s[1024] = "", want_s[1024] = "";
    for (int64_t i = 0, len = 0; i < r.lens[0] && len < 1000; i++)
        len += snprintf(got_s + len, sizeof got_s - (size_t)len, " %lld", (long long)r.ids[0][i]);
    for (size_t i = 0, len = 0; i < n_want && len < 1000; i++)
        len += (size_t)snprintf(want_s + len, sizeof want_s - len, " %lld", (long long)want[i]);
    cr_expect(same, "%s: %s differ:\n  got %s\n want %s", dir, name, got_s, want_s);
    cf_gen_result_free(&r);
    cf_gen_config_free(&g);
    free(want);
    free(input);
}

static void check_case(cf_test_case *c, void *ctx)
{
    cf_seq2seq *m = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_seq2seq_load(c->dir, &c->config, &m, &err), CF_OK, "%s", err.message);
    check_sequence(c->dir, m, &c->config, c->exp, "greedy.sequences", NULL, 1);
    check_sequence(c->dir, m, &c->config, c->exp, "beam.sequences", "summarization", 4);
    cf_seq2seq_free(m);
}

Test(t5_generation, greedy_and_beam_sequences)
{
    size_t n = cf_test_each_case("t5", check_case, NULL);
    cr_assert_gt(n, 0, "no t5 fixture cases under %s", cf_test_fixtures());
}
