/* Unigram model and Precompiled charsmap: the rules of the Rust library on small
 * hand-made vocabularies, bad inputs, and long inputs. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "tokenizers/precompiled.h"
#include "tokenizers/unigram.h"

static cf_unigram *make(const char *const *pieces, const double *scores, size_t n, int64_t unk, bool bf)
{
    cf_error err = {0};
    cf_unigram *u = NULL;
    cr_assert_eq(cf_unigram_new(pieces, scores, n, unk, bf, &u, &err), CF_OK, "%s", err.message);
    return u;
}

/* Encode and compare with "id:start:end id:start:end ..." */
static void expect_tokens(const cf_unigram *u, const char *text, const char *want)
{
    cf_error err = {0};
    cf_unigram_token *t;
    size_t n;
    cr_assert_eq(cf_unigram_encode(u, text, strlen(text), &t, &n, &err), CF_OK, "%s", err.message);
    char got[1024] = "";
    for (size_t i = 0; i < n; i++) {
        char one[64];
        snprintf(one, sizeof one, "%s%lld:%zu:%zu", i ? " " : "", (long long)t[i].id, t[i].start, t[i].end);
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    cr_assert_str_eq(got, want, "encoding \"%s\"", text);
    free(t);
}

Test(unigram, viterbi_picks_the_best_total_score)
{
    const char *p[] = {"<unk>", "a", "b", "ab", "abc", "c"};
    const double s[] = {0, -1, -1, -1.5, -5, -2};
    cf_unigram *u = make(p, s, 6, 0, false);
    expect_tokens(u, "abc", "3:0:2 5:2:3");   /* ab + c = -3.5 beats abc -5 and a+b+c -4 */
    expect_tokens(u, "abab", "3:0:2 3:2:4");
    expect_tokens(u, "", "");
    cf_unigram_free(u);
}

Test(unigram, ties_keep_the_first_path_found)
{
    const char *p[] = {"<unk>", "a", "b", "ab"};
    const double s[] = {0, -1, -1, -2};
    cf_unigram *u = make(p, s, 4, 0, false);
    expect_tokens(u, "ab", "3:0:2"); /* "ab" reaches byte 2 first; a+b only ties */
    cf_unigram_free(u);
}

Test(unigram, unknown_chars_fuse_into_one_unk)
{
    const char *p[] = {"<unk>", "a", "b"};
    const double s[] = {0, -1, -2};
    cf_unigram *u = make(p, s, 3, 0, false);
    expect_tokens(u, "xy\xC3\xA9" "a", "0:0:4 1:4:5");
    expect_tokens(u, "axb", "1:0:1 0:1:2 2:2:3");
    cf_unigram_free(u);
}

Test(unigram, byte_fallback_spells_unknown_spans_in_bytes)
{
    const char *p[] = {"<unk>", "a", "<0x78>", "<0x79>", "<0xC3>", "<0xA9>"};
    const double s[] = {0, -1, 0, 0, 0, 0};
    cf_unigram *u = make(p, s, 6, 0, true);
    /* "xy" fuses, then each byte becomes its piece, all carrying the span */
    expect_tokens(u, "xya", "2:0:2 3:0:2 1:2:3");
    expect_tokens(u, "\xC3\xA9", "4:0:2 5:0:2");
    expect_tokens(u, "z", "0:0:1"); /* <0x7A> missing: unk */
    cf_unigram_free(u);
}

Test(unigram, repeated_piece_maps_to_its_last_id)
{
    const char *p[] = {"<unk>", "a", "a"};
    const double s[] = {0, -1, -3};
    cf_unigram *u = make(p, s, 3, 0, false);
    expect_tokens(u, "a", "2:0:1");
    cr_assert_eq(cf_unigram_token_to_id(u, "a", 1), 2);
    cr_assert_str_eq(cf_unigram_id_to_token(u, 1), "a");
    cr_assert_null(cf_unigram_id_to_token(u, 3));
    cf_unigram_free(u);
}

Test(unigram, mapped_ids_come_from_the_id_table)
{
    const char *lattice[] = {("\xE2\x96\x81" "a"), "b", "c"};
    const double ls[] = {-1, -2, -3};
    const char *vocab[] = {"</s>", "<unk>", "b", ("\xE2\x96\x81" "a"), "zz"};
    cf_error err = {0};
    cf_unigram *u;
    cr_assert_eq(cf_unigram_new_mapped(lattice, ls, 3, vocab, 5, 1, false, &u, &err), CF_OK, "%s", err.message);
    /* c is a lattice piece without an id -> unk; "zz" matches no lattice piece, so it is an
     * unknown span, whose surface the id table then knows (as Marian's vocab.json lookup) */
    expect_tokens(u, "\xE2\x96\x81" "abczz", "3:0:4 2:4:5 1:5:6 4:6:8");
    expect_tokens(u, "zy", "1:0:2");
    cf_unigram_free(u);
}

Test(unigram, from_json_reads_both_forms)
{
    cf_error err = {0};
    cf_unigram *u;
    cJSON *j = cJSON_Parse("{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\",-1]],"
                           "\"byte_fallback\":false}");
    cr_assert_eq(cf_unigram_from_json(j, &u, &err), CF_OK, "%s", err.message);
    expect_tokens(u, "aa", "1:0:1 1:1:2");
    cf_unigram_free(u);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"a\"]]}");
    cr_assert_eq(cf_unigram_from_json(j, &u, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "vocab\"[1]"), "%s", err.message);
    cJSON_Delete(j);
}

Test(unigram, bad_models_and_inputs_are_errors)
{
    cf_error err = {0};
    cf_unigram *u;
    cr_assert_eq(cf_unigram_new(NULL, NULL, 0, -1, false, &u, &err), CF_ERR_FORMAT);
    const char *p[] = {"<unk>", "a"};
    const double s[] = {0, -1};
    cr_assert_eq(cf_unigram_new(p, s, 2, 2, false, &u, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "unk_id 2"), "%s", err.message);
    const char *bad[] = {"<unk>", "\xff"};
    cr_assert_eq(cf_unigram_new(bad, s, 2, 0, false, &u, &err), CF_ERR_FORMAT);

    u = make(p, s, 2, -1, false);
    cf_unigram_token *t;
    size_t n;
    cr_assert_eq(cf_unigram_encode(u, "ab", 2, &t, &n, &err), CF_ERR_INVALID_ARG, "no unk_id must fail");
    cr_assert_eq(cf_unigram_encode(u, "a\xC3", 2, &t, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "byte offset 1"), "%s", err.message);
    cf_unigram_free(u);
}

Test(unigram, long_input_is_linear)
{
    const char *p[] = {"<unk>", "a", "b", "ab", "aba", "bab", "abab"};
    const double s[] = {0, -3, -3, -2, -2.5, -2.5, -3};
    cf_unigram *u = make(p, s, 7, 0, false);
    size_t len = (size_t)8 << 20; /* 8 MB, one "word" */
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = i % 2 ? 'b' : 'a';
    cf_error err = {0};
    cf_unigram_token *t;
    size_t n;
    cr_assert_eq(cf_unigram_encode(u, text, len, &t, &n, &err), CF_OK, "%s", err.message);
    size_t covered = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(t[i].start, covered);
        covered = t[i].end;
    }
    cr_assert_eq(covered, len);
    cr_assert_eq(n, len / 4, "abab at -3 per 4 bytes is the best tiling");
    free(t);
    free(text);
    cf_unigram_free(u);
}

/* ---- Precompiled ---- */

Test(precompiled, bad_charsmaps_are_errors)
{
    cf_error err = {0};
    cf_precompiled *p;
    const uint8_t short_map[] = {1, 0};
    cr_assert_eq(cf_precompiled_new(short_map, 2, &p, &err), CF_ERR_FORMAT);
    const uint8_t past_end[] = {0x10, 0, 0, 0, 1, 2, 3, 4};
    cr_assert_eq(cf_precompiled_new(past_end, sizeof past_end, &p, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "16 bytes"), "%s", err.message);
    const uint8_t bad_utf8[] = {4, 0, 0, 0, 0, 0, 0, 0, 'a', 0xff, 0};
    cr_assert_eq(cf_precompiled_new(bad_utf8, sizeof bad_utf8, &p, &err), CF_ERR_FORMAT);
}

static cf_status collect(void *ctx, const char *out, size_t out_len, size_t src_start, size_t src_end)
{
    size_t *state = ctx; /* [0] = next expected src_start */
    cr_assert_eq(src_start, state[0], "pieces must cover the input in order");
    cr_assert_geq(src_end, src_start);
    (void)out;
    (void)out_len;
    state[0] = src_end;
    return CF_OK;
}

/* Random tries never crash the walk; pieces always tile the input. */
Test(precompiled, random_tries_are_safe)
{
    uint32_t seed = 12345;
    const char *texts[] = {"hello", "\xC3\xA9t\xC3\xA9", "\xE2\x96\x81x", "a\xCC\x81\xCC\x81\xCC\x81", ""};
    for (int round = 0; round < 2000; round++) {
        uint8_t map[4 + 64 + 16];
        size_t units = 1 + (size_t)(round % 16);
        map[0] = (uint8_t)(units * 4);
        map[1] = map[2] = map[3] = 0;
        for (size_t i = 4; i < sizeof map; i++) {
            seed = seed * 1103515245u + 12345u;
            map[i] = (uint8_t)(seed >> 16) & 0x7f; /* keep the tail ASCII so it is valid UTF-8 */
        }
        cf_error err = {0};
        cf_precompiled *p;
        if (cf_precompiled_new(map, 4 + units * 4 + 16, &p, &err) != CF_OK)
            continue;
        for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
            size_t state[1] = {0};
            cf_status st = cf_precompiled_normalize(p, texts[t], strlen(texts[t]), collect, state, &err);
            cr_assert(st == CF_OK || st == CF_ERR_FORMAT);
            if (st == CF_OK)
                cr_assert_eq(state[0], strlen(texts[t]));
        }
        cf_precompiled_free(p);
    }
}
