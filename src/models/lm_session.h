/* Row bookkeeping the cf_lm sessions (models/causal_lm.c, models/seq2seq.c) share: spreading a
 * prompt's prefill to its copies, and preparing the cache and row tables of one decoding step. */
#ifndef CF_MODELS_LM_SESSION_H
#define CF_MODELS_LM_SESSION_H

#include <stdint.h>

#include "core/error.h"
#include "models/lm.h"
#include "nn/kv_cache.h"

/* The sequences of a session: n_inputs prompts, each expanded to `copies` (beams, samples). */
typedef struct cf_lm_rows {
    int64_t n_inputs, copies, n_seqs;
} cf_lm_rows;

/* What every session keeps: its rows, the self-attention KV cache, and the row tables of one
 * forward (cache sequence and token id of each row). */
typedef struct cf_lm_state {
    cf_lm_rows rows;
    cf_kv_cache kv;
    int64_t *seqs, *ids;
} cf_lm_state;

void cf_lm_state_free(cf_lm_state *st);

/* open(): refuses an empty request, else gives its rows. name = the model, for messages. */
cf_status cf_lm_rows_open(const char *name, const cf_lm_limits *lim, cf_lm_rows *rows, cf_error *err);
/* start(): the inputs must come in the rows open() was given. */
cf_status cf_lm_rows_check_start(const char *name, const cf_lm_rows *rows, const cf_lm_inputs *in, cf_error *err);
/* step(): the cache must have a free position left. */
cf_status cf_lm_check_room(const char *name, const cf_lm_state *st, cf_error *err);

/* The prompt of input i ran as cache sequence i * copies with its logits at row i: give every
 * copy of it that cache and those logits [n_inputs * copies, vocab] (last input first, so no
 * row is overwritten before it is read). */
void cf_lm_spread_prefill(cf_lm_state *st, float *logits, int64_t vocab);

/* Before a step of one new token per sequence: sequence i continues the history of src[i]
 * (NULL: its own), position kv.len becomes visible to it, and the row tables get seqs[i] = i,
 * ids[i] = tokens[i] and, when pos is given, pos[i] = its tokens before this one. */
void cf_lm_step_rows(cf_lm_state *st, const int32_t *src, const int64_t *tokens, int64_t *pos);

#endif
