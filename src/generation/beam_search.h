/* Beam search bookkeeping as transformers 4.35.2's BeamSearchScorer / BeamHypotheses:
 * per input, the num_beams best finished hypotheses scored sum_logprobs / length^length_penalty
 * (length = the whole sequence, prompt included), the early_stopping rules, and finalize. */
#ifndef CF_GENERATION_BEAM_SEARCH_H
#define CF_GENERATION_BEAM_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "generation/gen_config.h"

typedef struct cf_beam_hyp {
    double score;
    int64_t *ids; /* the whole history (padded prompt + tokens), len entries */
    int64_t len;
} cf_beam_hyp;

typedef struct cf_beam_hyps {
    cf_beam_hyp *beams; /* insertion order, at most num_beams (+1 while adding) */
    int64_t n;
    double worst;
    bool done;
    cf_beam_hyp **best; /* after finalize: best first */
    int64_t n_best;
} cf_beam_hyps;

typedef struct cf_beam_scorer {
    int64_t batch, num_beams, max_length;
    double length_penalty;
    cf_early_stopping early_stopping;
    size_t n_eos;
    cf_beam_hyps *hyps;
    /* top-k candidates of one input */
    float *cand_score;
    int64_t *cand_index;
    int64_t max_best_len; /* longest returned sequence, for finalize's eos rule */
} cf_beam_scorer;

/* One step's inputs and outputs (arrays over batch * num_beams sequences). */
typedef struct cf_beam_step {
    const float *logits;     /* processed log-probs + beam scores [n_seqs, vocab] */
    int64_t vocab;
    const int64_t *hist;     /* histories [n_seqs, hist_stride], cur_len valid */
    int64_t hist_stride, cur_len;
    const int64_t *eos;
    size_t n_eos;
    int64_t pad;
    float *beam_scores;      /* in: current; out: next */
    int64_t *tokens;         /* out: next token per sequence */
    int32_t *src;            /* out: the sequence each one continues */
} cf_beam_step;

cf_status cf_beam_scorer_init(cf_beam_scorer *s, int64_t batch, int64_t num_beams, double length_penalty,
                              cf_early_stopping early_stopping, int64_t max_length, size_t n_eos, cf_error *err);
void cf_beam_scorer_free(cf_beam_scorer *s);

cf_status cf_beam_scorer_process(cf_beam_scorer *s, const cf_beam_step *step, cf_error *err);
bool cf_beam_scorer_done(const cf_beam_scorer *s);
/* Add the open beams of unfinished inputs and rank every input's hypotheses. */
cf_status cf_beam_scorer_finalize(cf_beam_scorer *s, const int64_t *hist, int64_t hist_stride, int64_t cur_len,
                                  const float *beam_scores, cf_error *err);
/* j-th best hypothesis of input i (after finalize). */
const cf_beam_hyp *cf_beam_scorer_best(const cf_beam_scorer *s, int64_t i, int64_t j);
/* finalize() writes eos after a returned sequence shorter than min(longest + 1, max_length). */
bool cf_beam_scorer_appends_eos(const cf_beam_scorer *s, const cf_beam_hyp *h, int64_t num_return);

#endif
