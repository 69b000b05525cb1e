#include "models/lm_session.h"

#include <stdlib.h>
#include <string.h>

void cf_lm_state_free(cf_lm_state *st)
{
    cf_kv_cache_free(&st->kv);
    free(st->seqs);
    free(st->ids);
}

void cf_lm_spread_prefill(cf_lm_state *st, float *logits, int64_t vocab)
{
    size_t V = (size_t)vocab;
    int64_t copies = st->rows.copies;
    for (int64_t i = st->rows.n_inputs - 1; i >= 0; i--) {
        cf_kv_cache_replicate(&st->kv, i * copies, copies);
        for (int64_t c = copies - 1; c >= 0; c--)
            if (i * copies + c != i)
                memcpy(logits + (size_t)(i * copies + c) * V, logits + (size_t)i * V, V * sizeof(float));
    }
}

void cf_lm_step_rows(cf_lm_state *st, const int32_t *src, const int64_t *tokens, int64_t *pos)
{
    cf_kv_cache_reorder(&st->kv, src);
    for (int64_t i = 0; i < st->rows.n_seqs; i++) {
        int64_t *n_tok = cf_kv_n_tokens(&st->kv, i);
        cf_kv_mask(&st->kv, i)[st->kv.len] = 0.0f;
        if (pos)
            pos[i] = *n_tok;
        (*n_tok)++;
        st->seqs[i] = i;
        st->ids[i] = tokens[i];
    }
}

cf_status cf_lm_rows_open(const char *name, const cf_lm_limits *lim, cf_lm_rows *rows, cf_error *err)
{
    if (lim->n_inputs <= 0 || lim->copies <= 0 || lim->max_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: empty generation request", name);
    *rows = (cf_lm_rows){.n_inputs = lim->n_inputs, .copies = lim->copies, .n_seqs = lim->n_inputs * lim->copies};
    return CF_OK;
}

cf_status cf_lm_rows_check_start(const char *name, const cf_lm_rows *rows, const cf_lm_inputs *in, cf_error *err)
{
    if (in->n_inputs != rows->n_inputs || in->copies != rows->copies)
        return cf_fail(err, CF_ERR_INTERNAL, "%s: start with %lld x %lld sequences, session holds %lld x %lld", name,
                       (long long)in->n_inputs, (long long)in->copies, (long long)rows->n_inputs,
                       (long long)rows->copies);
    return CF_OK;
}

cf_status cf_lm_check_room(const char *name, const cf_lm_state *st, cf_error *err)
{
    if (st->kv.len >= st->kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the session's %lld positions are used up", name,
                       (long long)st->kv.max_len);
    return CF_OK;
}
