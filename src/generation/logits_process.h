/* Logits processors and warpers, one row (one sequence's next-token scores) at a time.
 * Each reproduces the transformers 4.35.2 class of the same name on float32 scores;
 * removed tokens become -INFINITY (the classes' filter_value). `ids` is the row's whole
 * history (prompt + generated), as `input_ids` is in generate(). */
#ifndef CF_GENERATION_LOGITS_PROCESS_H
#define CF_GENERATION_LOGITS_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Scratch for the sorting warpers and the repetition penalty: sized once per vocab. */
typedef struct cf_lp_scratch {
    int64_t vocab;
    int32_t *order;   /* [vocab] token indices */
    float *values;    /* [vocab] */
    double *cumsum;   /* [vocab] */
    uint8_t *seen;    /* [vocab] zero between calls */
} cf_lp_scratch;

bool cf_lp_scratch_init(cf_lp_scratch *s, int64_t vocab);
void cf_lp_scratch_free(cf_lp_scratch *s);

/* RepetitionPenaltyLogitsProcessor: each token seen in ids once: x<0 ? x*p : x/p. */
void cf_lp_repetition_penalty(float *row, int64_t vocab, const int64_t *ids, int64_t len, float penalty,
                              cf_lp_scratch *s);
/* NoRepeatNGramLogitsProcessor: ban tokens that would repeat an n-gram already in ids. */
void cf_lp_no_repeat_ngram(float *row, int64_t vocab, const int64_t *ids, int64_t len, int64_t n);
/* NoBadWordsLogitsProcessor: ban the last token of each sequence whose prefix ends ids. */
void cf_lp_bad_words(float *row, int64_t vocab, const int64_t *ids, int64_t len, const int64_t *const *words,
                     const size_t *word_lens, size_t n_words);
/* Min(New)TokensLength: ban every eos id (the caller decides whether the length is short). */
void cf_lp_ban_tokens(float *row, int64_t vocab, const int64_t *tokens, size_t n);
/* ForcedBOS/ForcedEOS: everything -inf except the forced ids, which become 0. */
void cf_lp_force_tokens(float *row, int64_t vocab, const int64_t *tokens, size_t n);

/* Warpers. min_keep is min_tokens_to_keep (2 under beam sampling, else 1). */
void cf_lp_temperature(float *row, int64_t vocab, float temperature);
void cf_lp_top_k(float *row, int64_t vocab, int64_t k, int64_t min_keep, cf_lp_scratch *s);
void cf_lp_top_p(float *row, int64_t vocab, float top_p, int64_t min_keep, cf_lp_scratch *s);
void cf_lp_typical_p(float *row, int64_t vocab, float mass, int64_t min_keep, cf_lp_scratch *s);

/* In-place softmax / log-softmax of one row as torch computes them in float32. */
void cf_lp_softmax(float *row, int64_t vocab);
void cf_lp_log_softmax(float *row, int64_t vocab);

#endif
