#include "generation/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generation/beam_search.h"
#include "generation/logits_process.h"
#include "generation/rng.h"

typedef struct gen_state {
    const cf_lm *lm;
    const cf_gen_config *cfg;
    const cf_gen_request *req;
    int64_t n_inputs, copies, n_seqs, T, max_length, V, pad;
    int64_t cur_len;
    int64_t *hist, *hist_next; /* [n_seqs, max_length] left-padded histories */
    float *logits;
    int64_t *tokens;
    int32_t *src;
    void *session;
    cf_lp_scratch lp;
    /* bad_words_ids without the [eos] entries, as NoBadWordsLogitsProcessor filters them */
    const int64_t **bad_words;
    size_t *bad_lens, n_bad;
    cf_rng rng;
} gen_state;

static bool is_eos(const cf_gen_config *g, int64_t t)
{
    for (size_t i = 0; i < g->eos_token_id.n; i++)
        if (g->eos_token_id.ids[i] == t)
            return true;
    return false;
}

/* The LogitsProcessorList of generate(), in its order. */
static void process_row(gen_state *st, float *row, const int64_t *hist)
{
    const cf_gen_config *g = st->cfg;
    int64_t V = st->V, len = st->cur_len;
    if (g->repetition_penalty != 1.0)
        cf_lp_repetition_penalty(row, V, hist, len, (float)g->repetition_penalty, &st->lp);
    if (g->no_repeat_ngram_size > 0)
        cf_lp_no_repeat_ngram(row, V, hist, len, g->no_repeat_ngram_size);
    if (st->n_bad)
        cf_lp_bad_words(row, V, hist, len, st->bad_words, st->bad_lens, st->n_bad);
    if (g->min_length > 0 && g->eos_token_id.n && len < g->min_length)
        cf_lp_ban_tokens(row, V, g->eos_token_id.ids, g->eos_token_id.n);
    if (g->min_new_tokens > 0 && g->eos_token_id.n && len - st->T < g->min_new_tokens)
        cf_lp_ban_tokens(row, V, g->eos_token_id.ids, g->eos_token_id.n);
    if (g->forced_bos_token_id >= 0 && len == 1)
        cf_lp_force_tokens(row, V, &g->forced_bos_token_id, 1);
    if (g->forced_eos_token_id.n && len == st->max_length - 1)
        cf_lp_force_tokens(row, V, g->forced_eos_token_id.ids, g->forced_eos_token_id.n);
    if (st->req->process_logits)
        st->req->process_logits(st->req->process_ctx, row, V, hist, len);
}

/* The LogitsWarperList of sampling, in its order. */
static void warp_row(gen_state *st, float *row)
{
    const cf_gen_config *g = st->cfg;
    int64_t min_keep = g->num_beams > 1 ? 2 : 1;
    if (g->temperature != 1.0)
        cf_lp_temperature(row, st->V, (float)g->temperature);
    if (g->top_k != 0)
        cf_lp_top_k(row, st->V, g->top_k, min_keep, &st->lp);
    if (g->top_p < 1.0)
        cf_lp_top_p(row, st->V, (float)g->top_p, min_keep, &st->lp);
    if (g->typical_p < 1.0)
        cf_lp_typical_p(row, st->V, (float)g->typical_p, min_keep, &st->lp);
}

static int64_t argmax(const float *row, int64_t V)
{
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (row[i] > row[best])
            best = i;
    return best;
}

static int64_t sample(gen_state *st, float *row)
{
    cf_lp_softmax(row, st->V);
    double total = 0;
    for (int64_t i = 0; i < st->V; i++)
        total += row[i];
    double u = cf_rng_uniform(&st->rng) * total, acc = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < st->V; i++) {
        if (row[i] <= 0)
            continue;
        acc += row[i];
        last = i;
        if (u < acc)
            return i;
    }
    return last;
}

/* ------------------------------------------------------------------- setup ---- */

static cf_status filter_bad_words(gen_state *st, cf_error *err)
{
    const cf_gen_config *g = st->cfg;
    if (!g->n_bad_words)
        return CF_OK;
    st->bad_words = calloc(g->n_bad_words, sizeof *st->bad_words);
    st->bad_lens = calloc(g->n_bad_words, sizeof *st->bad_lens);
    if (!st->bad_words || !st->bad_lens)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_bad_words; i++) {
        const cf_token_list *w = &g->bad_words_ids[i];
        if (w->n == 1 && is_eos(g, w->ids[0]))
            continue;
        st->bad_words[st->n_bad] = w->ids;
        st->bad_lens[st->n_bad++] = w->n;
    }
    return CF_OK;
}

static cf_status setup(gen_state *st, const cf_lm *lm, const cf_gen_request *req, cf_error *err)
{
    const cf_gen_config *g = req->cfg;
    CF_TRY(cf_gen_config_validate(g, err));
    if (g->do_sample && g->num_beams > 1)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "beam sampling (do_sample with num_beams %lld) is not supported",
                       (long long)g->num_beams);
    if (g->num_beams > 1 && g->n_stop_strings)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "stop strings are supported with greedy search and sampling only");
    if (g->max_new_tokens == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "max_new_tokens must be greater than 0");
    if (req->n_inputs <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "nothing to generate: no inputs");
    st->lm = lm;
    st->cfg = g;
    st->req = req;
    st->V = lm->vocab_size;
    st->n_inputs = req->n_inputs;
    st->copies = g->num_beams > 1 ? g->num_beams : g->num_return_sequences;
    st->n_seqs = st->n_inputs * st->copies;
    for (int64_t i = 0; i < req->n_inputs; i++) {
        if (req->prompt_lens[i] <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "input %lld has an empty prompt", (long long)i);
        if (req->prompt_lens[i] > st->T)
            st->T = req->prompt_lens[i];
    }
    st->pad = g->pad_token_id >= 0 ? g->pad_token_id : g->eos_token_id.n ? g->eos_token_id.ids[0] : 0;
    st->max_length = cf_gen_config_max_length(g, st->T);
    if (st->max_length <= st->T)
        st->max_length = st->T + 1; /* generate() always produces at least one token */
    size_t hist_n = (size_t)st->n_seqs * (size_t)st->max_length;
    st->hist = malloc(hist_n * sizeof *st->hist);
    st->hist_next = malloc(hist_n * sizeof *st->hist_next);
    st->logits = malloc((size_t)st->n_seqs * (size_t)st->V * sizeof *st->logits);
    st->tokens = malloc((size_t)st->n_seqs * sizeof *st->tokens);
    st->src = malloc((size_t)st->n_seqs * sizeof *st->src);
    if (!st->hist || !st->hist_next || !st->logits || !st->tokens || !st->src || !cf_lp_scratch_init(&st->lp, st->V))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for %lld sequences of %lld tokens", (long long)st->n_seqs,
                       (long long)st->max_length);
    CF_TRY(filter_bad_words(st, err));
    cf_rng_seed(&st->rng, g->has_seed ? g->seed : (uint64_t)time(NULL) ^ (uint64_t)clock() << 32);
    return CF_OK;
}

static void teardown(gen_state *st)
{
    if (st->session)
        st->lm->ops->close(st->session);
    free(st->hist);
    free(st->hist_next);
    free(st->logits);
    free(st->tokens);
    free(st->src);
    free(st->bad_words);
    free(st->bad_lens);
    cf_lp_scratch_free(&st->lp);
}

/* Left-pad the prompts, open the model session and run the prompt through it. */
static cf_status start(gen_state *st, cf_error *err)
{
    const cf_gen_request *req = st->req;
    int64_t T = st->T;
    int64_t *ids = malloc((size_t)(st->n_inputs * T) * sizeof *ids);
    int64_t *mask = malloc((size_t)(st->n_inputs * T) * sizeof *mask);
    if (!ids || !mask) {
        free(ids);
        free(mask);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < st->n_inputs; i++) {
        int64_t pad = T - req->prompt_lens[i];
        for (int64_t t = 0; t < T; t++) {
            ids[i * T + t] = t < pad ? st->pad : req->prompts[i][t - pad];
            mask[i * T + t] = t >= pad;
        }
        for (int64_t c = 0; c < st->copies; c++)
            memcpy(st->hist + (i * st->copies + c) * st->max_length, ids + i * T, (size_t)T * sizeof *ids);
    }
    st->cur_len = T;
    cf_lm_limits lim = {.n_inputs = st->n_inputs, .copies = st->copies, .max_len = st->max_length,
                        .enc_len = req->enc_len};
    cf_lm_inputs in = {.n_inputs = st->n_inputs, .copies = st->copies, .len = T, .ids = ids, .mask = mask,
                       .enc_len = req->enc_len, .enc_ids = req->enc_ids, .enc_mask = req->enc_mask,
                       .enc_features = req->enc_features,
                       .enc_features_shape = {req->enc_features_shape[0], req->enc_features_shape[1]}};
    cf_status s = st->lm->ops->open(st->lm->model, &lim, &st->session, err);
    if (s == CF_OK)
        s = st->lm->ops->start(st->session, &in, st->logits, err);
    free(ids);
    free(mask);
    return s;
}

/* -------------------------------------------------------------- the results ---- */

static cf_status result_alloc(cf_gen_result *r, int64_t n, bool scores, cf_error *err)
{
    memset(r, 0, sizeof *r);
    r->ids = calloc((size_t)n, sizeof *r->ids);
    r->lens = calloc((size_t)n, sizeof *r->lens);
    r->prompt_lens = calloc((size_t)n, sizeof *r->prompt_lens);
    r->scores = scores ? calloc((size_t)n, sizeof *r->scores) : NULL;
    r->n_seqs = n;
    if (!r->ids || !r->lens || !r->prompt_lens || (scores && !r->scores)) {
        cf_gen_result_free(r);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    return CF_OK;
}

/* Result i = the unpadded prompt of `input` + tokens hist[T .. T+n_new). */
static cf_status result_set(gen_state *st, cf_gen_result *r, int64_t i, int64_t input, const int64_t *hist,
                            int64_t n_new, cf_error *err)
{
    int64_t p = st->req->prompt_lens[input];
    r->ids[i] = malloc((size_t)(p + n_new + 1) * sizeof **r->ids);
    if (!r->ids[i])
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    memcpy(r->ids[i], hist + st->T - p, (size_t)(p + n_new) * sizeof **r->ids);
    r->lens[i] = p + n_new;
    r->prompt_lens[i] = p;
    return CF_OK;
}

void cf_gen_result_free(cf_gen_result *r)
{
    if (!r)
        return;
    for (int64_t i = 0; r->ids && i < r->n_seqs; i++)
        free(r->ids[i]);
    free(r->ids);
    free(r->lens);
    free(r->prompt_lens);
    free(r->scores);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------ greedy and sampling ---- */

static cf_status decode_greedy_or_sample(gen_state *st, cf_gen_result *out, cf_error *err)
{
    const cf_gen_config *g = st->cfg;
    int64_t n = st->n_seqs, V = st->V, L = st->max_length;
    bool *unfinished = malloc((size_t)n * sizeof *unfinished);
    int64_t *n_new = calloc((size_t)n, sizeof *n_new);
    if (!unfinished || !n_new) {
        free(unfinished);
        free(n_new);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    for (int64_t s = 0; s < n; s++)
        unfinished[s] = true;
    cf_status status = CF_OK;
    for (;;) {
        for (int64_t s = 0; s < n; s++) {
            float *row = st->logits + s * V;
            process_row(st, row, st->hist + s * L);
            int64_t tok;
            if (g->do_sample) {
                warp_row(st, row);
                tok = sample(st, row);
            } else {
                tok = argmax(row, V);
            }
            st->tokens[s] = unfinished[s] ? tok : st->pad;
            st->hist[s * L + st->cur_len] = st->tokens[s];
        }
        st->cur_len++;
        bool any = false;
        for (int64_t s = 0; s < n; s++) {
            if (!unfinished[s])
                continue;
            n_new[s]++;
            if (is_eos(g, st->tokens[s]))
                unfinished[s] = false;
            if (st->req->on_token && st->req->on_token(st->req->ctx, s, st->tokens[s]))
                unfinished[s] = false;
            any |= unfinished[s];
        }
        if (!any || st->cur_len >= L)
            break;
        status = st->lm->ops->step(st->session, st->tokens, NULL, st->logits, err);
        if (status != CF_OK)
            break;
    }
    if (status == CF_OK)
        status = result_alloc(out, n, false, err);
    for (int64_t s = 0; status == CF_OK && s < n; s++)
        status = result_set(st, out, s, s / st->copies, st->hist + s * L, n_new[s], err);
    free(unfinished);
    free(n_new);
    return status;
}

/* -------------------------------------------------------------- beam search ---- */

static cf_status decode_beams(gen_state *st, cf_gen_result *out, cf_error *err)
{
    const cf_gen_config *g = st->cfg;
    int64_t nb = g->num_beams, V = st->V, L = st->max_length;
    cf_beam_scorer sc;
    CF_TRY(cf_beam_scorer_init(&sc, st->n_inputs, nb, g->length_penalty, g->early_stopping, L,
                               g->eos_token_id.n, err));
    float *beam_scores = malloc((size_t)st->n_seqs * sizeof *beam_scores);
    if (!beam_scores) {
        cf_beam_scorer_free(&sc);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    for (int64_t s = 0; s < st->n_seqs; s++)
        beam_scores[s] = s % nb == 0 ? 0.0f : -1e9f;
    cf_status status = CF_OK;
    for (;;) {
        for (int64_t s = 0; s < st->n_seqs; s++) {
            float *row = st->logits + s * V;
            if (st->lm->has_beam_masked_token)
                row[st->lm->beam_masked_token] = -INFINITY;
            cf_lp_log_softmax(row, V);
            process_row(st, row, st->hist + s * L);
            for (int64_t t = 0; t < V; t++)
                row[t] += beam_scores[s];
        }
        cf_beam_step step = {.logits = st->logits, .vocab = V, .hist = st->hist, .hist_stride = L,
                             .cur_len = st->cur_len, .eos = g->eos_token_id.ids, .n_eos = g->eos_token_id.n,
                             .pad = st->pad, .beam_scores = beam_scores, .tokens = st->tokens, .src = st->src};
        status = cf_beam_scorer_process(&sc, &step, err);
        if (status != CF_OK)
            break;
        /* histories follow their beams, then take the new token */
        for (int64_t s = 0; s < st->n_seqs; s++) {
            memcpy(st->hist_next + s * L, st->hist + (int64_t)st->src[s] * L, (size_t)st->cur_len * sizeof *st->hist);
            st->hist_next[s * L + st->cur_len] = st->tokens[s];
        }
        int64_t *tmp = st->hist;
        st->hist = st->hist_next;
        st->hist_next = tmp;
        st->cur_len++;
        if (cf_beam_scorer_done(&sc) || st->cur_len >= L)
            break;
        status = st->lm->ops->step(st->session, st->tokens, st->src, st->logits, err);
        if (status != CF_OK)
            break;
    }
    if (status == CF_OK)
        status = cf_beam_scorer_finalize(&sc, st->hist, L, st->cur_len, beam_scores, err);
    int64_t nrs = g->num_return_sequences;
    if (status == CF_OK)
        status = result_alloc(out, st->n_inputs * nrs, true, err);
    for (int64_t i = 0; status == CF_OK && i < st->n_inputs; i++) {
        for (int64_t j = 0; status == CF_OK && j < nrs; j++) {
            const cf_beam_hyp *h = cf_beam_scorer_best(&sc, i, j);
            int64_t r = i * nrs + j;
            status = result_set(st, out, r, i, h->ids, h->len - st->T, err);
            if (status == CF_OK && cf_beam_scorer_appends_eos(&sc, h, nrs) && g->eos_token_id.n)
                out->ids[r][out->lens[r]++] = g->eos_token_id.ids[0];
            if (status == CF_OK)
                out->scores[r] = h->score;
        }
    }
    for (int64_t r = 0; status == CF_OK && st->req->on_token && r < out->n_seqs; r++)
        for (int64_t t = out->prompt_lens[r]; t < out->lens[r]; t++)
            st->req->on_token(st->req->ctx, r, out->ids[r][t]);
    free(beam_scores);
    cf_beam_scorer_free(&sc);
    return status;
}

cf_status cf_generate(const cf_lm *lm, const cf_gen_request *req, cf_gen_result *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    gen_state st = {0};
    cf_status s = setup(&st, lm, req, err);
    if (s == CF_OK)
        s = start(&st, err);
    if (s == CF_OK)
        s = req->cfg->num_beams > 1 ? decode_beams(&st, out, err) : decode_greedy_or_sample(&st, out, err);
    teardown(&st);
    if (s != CF_OK)
        cf_gen_result_free(out);
    return s;
}
