#include "generation/beam_search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cf_status cf_beam_scorer_init(cf_beam_scorer *s, int64_t batch, int64_t num_beams, double length_penalty,
                              cf_early_stopping early_stopping, int64_t max_length, size_t n_eos, cf_error *err)
{
    memset(s, 0, sizeof *s);
    s->batch = batch;
    s->num_beams = num_beams;
    s->length_penalty = length_penalty;
    s->early_stopping = early_stopping;
    s->max_length = max_length;
    s->n_eos = n_eos;
    int64_t k = (int64_t)(n_eos + 1 > 2 ? n_eos + 1 : 2) * num_beams;
    s->hyps = calloc((size_t)batch, sizeof *s->hyps);
    s->cand_score = malloc((size_t)k * sizeof *s->cand_score);
    s->cand_index = malloc((size_t)k * sizeof *s->cand_index);
    bool ok = s->hyps && s->cand_score && s->cand_index;
    for (int64_t b = 0; ok && b < batch; b++) {
        s->hyps[b].beams = calloc((size_t)num_beams + 1, sizeof *s->hyps[b].beams);
        s->hyps[b].worst = 1e9;
        ok = s->hyps[b].beams != NULL;
    }
    if (!ok) {
        cf_beam_scorer_free(s);
        return cf_fail(err, CF_ERR_NOMEM, "beam search: out of memory");
    }
    return CF_OK;
}

void cf_beam_scorer_free(cf_beam_scorer *s)
{
    for (int64_t b = 0; s->hyps && b < s->batch; b++) {
        for (int64_t i = 0; s->hyps[b].beams && i < s->hyps[b].n; i++)
            free(s->hyps[b].beams[i].ids);
        free(s->hyps[b].beams);
        free(s->hyps[b].best);
    }
    free(s->hyps);
    free(s->cand_score);
    free(s->cand_index);
    memset(s, 0, sizeof *s);
}

static double normalised(const cf_beam_scorer *s, double sum_logprobs, int64_t len)
{
    return sum_logprobs / pow((double)len, s->length_penalty);
}

/* BeamHypotheses.add: keep the num_beams best; the worst is dropped (earliest on ties). */
static cf_status hyps_add(cf_beam_scorer *s, cf_beam_hyps *h, const int64_t *ids, int64_t len, double sum_logprobs,
                          cf_error *err)
{
    double score = normalised(s, sum_logprobs, len);
    if (h->n >= s->num_beams && !(score > h->worst))
        return CF_OK;
    cf_beam_hyp *nh = &h->beams[h->n];
    nh->ids = malloc((size_t)len * sizeof *nh->ids);
    if (!nh->ids)
        return cf_fail(err, CF_ERR_NOMEM, "beam search: out of memory");
    memcpy(nh->ids, ids, (size_t)len * sizeof *ids);
    nh->len = len;
    nh->score = score;
    h->n++;
    if (h->n <= s->num_beams) {
        h->worst = fmin(score, h->worst);
        return CF_OK;
    }
    int64_t worst = 0;
    for (int64_t i = 1; i < h->n; i++)
        if (h->beams[i].score < h->beams[worst].score)
            worst = i;
    free(h->beams[worst].ids);
    memmove(&h->beams[worst], &h->beams[worst + 1], (size_t)(h->n - worst - 1) * sizeof *h->beams);
    h->n--;
    h->worst = h->beams[0].score;
    for (int64_t i = 1; i < h->n; i++)
        h->worst = fmin(h->worst, h->beams[i].score);
    return CF_OK;
}

/* BeamHypotheses.is_done with the whole sequence length, as 4.35.2 counts it. */
static bool hyps_is_done(const cf_beam_scorer *s, const cf_beam_hyps *h, double best_sum_logprobs, int64_t cur_len)
{
    if (h->n < s->num_beams)
        return false;
    if (s->early_stopping == CF_EARLY_STOP_TRUE)
        return true;
    int64_t len = cur_len;
    if (s->early_stopping == CF_EARLY_STOP_NEVER && s->length_penalty > 0.0)
        len = s->max_length; /* the longest a beam can still grow gives its best score */
    return h->worst >= normalised(s, best_sum_logprobs, len);
}

/* The k best (score, flat index) of row[0..n), best first; ties keep the lower index first. */
static void top_k(const float *row, int64_t n, int64_t k, float *score, int64_t *index)
{
    int64_t have = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = row[i];
        if (have == k && !(v > score[k - 1]))
            continue;
        int64_t at = have < k ? have++ : k - 1;
        while (at > 0 && v > score[at - 1]) {
            score[at] = score[at - 1];
            index[at] = index[at - 1];
            at--;
        }
        score[at] = v;
        index[at] = i;
    }
}

static bool in_eos(const cf_beam_step *st, int64_t tok)
{
    for (size_t i = 0; i < st->n_eos; i++)
        if (st->eos[i] == tok)
            return true;
    return false;
}

static cf_status process_input(cf_beam_scorer *s, int64_t b, const cf_beam_step *st, cf_error *err)
{
    int64_t nb = s->num_beams, base = b * nb, k = (int64_t)(st->n_eos + 1 > 2 ? st->n_eos + 1 : 2) * nb;
    cf_beam_hyps *h = &s->hyps[b];
    if (h->done) { /* finished inputs keep stepping on padding */
        for (int64_t j = 0; j < nb; j++) {
            st->beam_scores[base + j] = 0.0f;
            st->tokens[base + j] = st->pad;
            st->src[base + j] = (int32_t)(base + j);
        }
        return CF_OK;
    }
    top_k(st->logits + base * st->vocab, nb * st->vocab, k, s->cand_score, s->cand_index);
    int64_t beam = 0;
    for (int64_t rank = 0; rank < k && beam < nb; rank++) {
        int64_t tok = s->cand_index[rank] % st->vocab, from = base + s->cand_index[rank] / st->vocab;
        if (st->n_eos && in_eos(st, tok)) {
            if (rank >= nb)
                continue; /* an eos outside the top num_beams does not finish a hypothesis */
            CF_TRY(hyps_add(s, h, st->hist + from * st->hist_stride, st->cur_len, s->cand_score[rank], err));
            continue;
        }
        st->beam_scores[base + beam] = s->cand_score[rank];
        st->tokens[base + beam] = tok;
        st->src[base + beam] = (int32_t)from;
        beam++;
    }
    if (beam < nb)
        return cf_fail(err, CF_ERR_INTERNAL, "beam search: only %lld of %lld beams could continue", (long long)beam,
                       (long long)nb);
    h->done = hyps_is_done(s, h, s->cand_score[0], st->cur_len);
    return CF_OK;
}

cf_status cf_beam_scorer_process(cf_beam_scorer *s, const cf_beam_step *step, cf_error *err)
{
    for (int64_t b = 0; b < s->batch; b++)
        CF_TRY(process_input(s, b, step, err));
    return CF_OK;
}

bool cf_beam_scorer_done(const cf_beam_scorer *s)
{
    for (int64_t b = 0; b < s->batch; b++)
        if (!s->hyps[b].done)
            return false;
    return true;
}

/* Best first; among equal scores the later-added one first (Python's stable sort + pop()). */
static void rank_hypotheses(cf_beam_hyps *h)
{
    for (int64_t i = 0; i < h->n; i++) {
        cf_beam_hyp *x = &h->beams[i];
        int64_t at = h->n_best++;
        while (at > 0 && !(h->best[at - 1]->score > x->score)) {
            h->best[at] = h->best[at - 1];
            at--;
        }
        h->best[at] = x;
    }
}

cf_status cf_beam_scorer_finalize(cf_beam_scorer *s, const int64_t *hist, int64_t hist_stride, int64_t cur_len,
                                  const float *beam_scores, cf_error *err)
{
    for (int64_t b = 0; b < s->batch; b++) {
        cf_beam_hyps *h = &s->hyps[b];
        for (int64_t j = 0; !h->done && j < s->num_beams; j++) {
            int64_t seq = b * s->num_beams + j;
            CF_TRY(hyps_add(s, h, hist + seq * hist_stride, cur_len, beam_scores[seq], err));
        }
        h->best = calloc((size_t)h->n + 1, sizeof *h->best);
        if (!h->best)
            return cf_fail(err, CF_ERR_NOMEM, "beam search: out of memory");
        rank_hypotheses(h);
    }
    return CF_OK;
}

const cf_beam_hyp *cf_beam_scorer_best(const cf_beam_scorer *s, int64_t i, int64_t j)
{
    const cf_beam_hyps *h = &s->hyps[i];
    return j < h->n_best ? h->best[j] : h->best[h->n_best - 1];
}

bool cf_beam_scorer_appends_eos(const cf_beam_scorer *s, const cf_beam_hyp *h, int64_t num_return)
{
    int64_t longest = 0;
    for (int64_t b = 0; b < s->batch; b++)
        for (int64_t j = 0; j < num_return; j++) {
            const cf_beam_hyp *x = cf_beam_scorer_best(s, b, j);
            longest = x->len > longest ? x->len : longest;
        }
    int64_t limit = longest + 1 < s->max_length ? longest + 1 : s->max_length;
    return h->len < limit;
}
