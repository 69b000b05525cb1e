#include "models/causal_lm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"
#include "models/lm_session.h"

bool cf_causal_lm_supports(const cf_config *config)
{
    const char *type = cf_config_str(config, "model_type", "");
    return !strcmp(type, "gpt2") || !strcmp(type, "llama");
}

static cf_status load_arch(const char *dir, const cf_config *config, const char *type, cf_causal_lm *m,
                           cf_error *err)
{
    if (cf_llama2c_sniff(dir))
        return cf_llama_load_llama2c(dir, m, err); /* a llama2.c checkpoint file, not a folder */
    if (!strcmp(type, "gpt2"))
        return cf_gpt2_load(config, dir, m, err);
    if (!strcmp(type, "llama"))
        return cf_llama_load(config, dir, m, err);
    return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a supported text-generation model "
                   "(supported: gpt2, llama)", config->path, type);
}

cf_status cf_causal_lm_load(const char *dir, const cf_config *config, cf_causal_lm **out, cf_error *err)
{
    *out = NULL;
    const char *type = cf_config_str(config, "model_type", NULL);
    if (!type)
        return cf_fail(err, CF_ERR_FORMAT, "%s: no \"model_type\"; cannot tell which architecture to load",
                       config->path);
    cf_causal_lm *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status s = load_arch(dir, config, type, m, err);
    if (s == CF_OK)
        *out = m;
    else
        free(m); /* the architecture freed what it had loaded */
    return s;
}

void cf_causal_lm_free(cf_causal_lm *m)
{
    if (m && m->free_weights)
        m->free_weights(m->weights);
    free(m);
}

cf_status cf_causal_lm_check_ids(const cf_causal_lm *m, const int64_t *ids, int64_t n, cf_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->arch.vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: token id %lld at position %lld is outside the vocabulary "
                           "[0, %lld)", m->arch.name, (long long)ids[i], (long long)i, (long long)m->arch.vocab);
    return CF_OK;
}

/* ------------------------------------------------------------------ session ---- */

typedef struct session {
    const cf_causal_lm *m;
    cf_lm_state st;
    float *scratch;
    int64_t scratch_rows;
    int64_t *pos;       /* position ids of each row; it and st's row tables are sized for the prefill */
    int64_t table_rows;
} session;

static void session_close(void *p)
{
    session *s = p;
    if (!s)
        return;
    cf_lm_state_free(&s->st);
    free(s->scratch);
    free(s->pos);
    free(s);
}

static cf_status reserve_rows(session *s, int64_t rows, cf_error *err)
{
    if (rows > s->scratch_rows) {
        free(s->scratch);
        size_t n = s->m->arch.scratch_floats(s->m->weights, rows);
        s->scratch = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
        s->scratch_rows = s->scratch ? rows : 0;
        if (!s->scratch)
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %lld activation rows", s->m->arch.name,
                           (long long)rows);
    }
    if (rows > s->table_rows) {
        free(s->st.ids);
        free(s->pos);
        free(s->st.seqs);
        s->st.ids = malloc((size_t)rows * sizeof *s->st.ids);
        s->pos = malloc((size_t)rows * sizeof *s->pos);
        s->st.seqs = malloc((size_t)(rows > s->st.rows.n_seqs ? rows : s->st.rows.n_seqs) * sizeof *s->st.seqs);
        s->table_rows = (s->st.ids && s->pos && s->st.seqs) ? rows : 0;
        if (!s->table_rows)
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", s->m->arch.name);
    }
    return CF_OK;
}

static cf_status session_open(const void *model, const cf_lm_limits *lim, void **out, cf_error *err)
{
    const cf_causal_lm *m = model;
    cf_lm_rows rows;
    *out = NULL;
    CF_TRY(cf_lm_rows_open(m->arch.name, lim, &rows, err));
    if (m->arch.max_positions > 0 && lim->max_len > m->arch.max_positions)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "%s: prompt + new tokens = %lld positions, but the model has only %lld "
                       "(max_position_embeddings); shorten the prompt or max_new_tokens",
                       m->arch.name, (long long)lim->max_len, (long long)m->arch.max_positions);
    session *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    s->m = m;
    s->st.rows = rows;
    cf_status st = cf_kv_cache_init(&s->st.kv, m->arch.n_layers, s->st.rows.n_seqs, lim->max_len, m->arch.kv_dim, err);
    if (st == CF_OK)
        st = reserve_rows(s, s->st.rows.n_seqs, err);
    if (st != CF_OK) {
        session_close(s);
        return st;
    }
    *out = s;
    return CF_OK;
}

/* Masks and position ids of one left-padded prompt row, as generate() builds them. */
static void prepare_prompt(session *s, int64_t seq, const int64_t *mask, int64_t T, int64_t *pos)
{
    float *key_mask = cf_kv_mask(&s->st.kv, seq);
    int64_t count = 0;
    for (int64_t t = 0; t < T; t++) {
        bool real = !mask || mask[t];
        count += real;
        pos[t] = real ? count - 1 : 1;
        key_mask[t] = real ? 0.0f : -INFINITY;
    }
    *cf_kv_n_tokens(&s->st.kv, seq) = count;
}

static cf_status session_start(void *p, const cf_lm_inputs *in, float *logits, cf_error *err)
{
    session *s = p;
    const cf_causal_arch *a = &s->m->arch;
    CF_TRY(cf_lm_rows_check_start(a->name, &s->st.rows, in, err));
    if (in->enc_ids || in->enc_features)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s is a decoder-only model: it takes no encoder input", a->name);
    int64_t T = in->len;
    if (T <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the prompt is empty; give at least one token (e.g. bos)",
                       a->name);
    if (T > s->st.kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: prompt of %lld tokens exceeds the session's %lld", a->name,
                       (long long)T, (long long)s->st.kv.max_len);
    for (int64_t i = 0; i < in->n_inputs * T; i++)
        if (in->ids[i] < 0 || in->ids[i] >= a->vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: token id %lld is outside the vocabulary [0, %lld)", a->name,
                           (long long)in->ids[i], (long long)a->vocab);
    int64_t rows = in->n_inputs * T;
    CF_TRY(reserve_rows(s, rows, err));
    s->st.kv.len = 0;
    for (int64_t i = 0; i < in->n_inputs; i++) {
        s->st.seqs[i] = i * s->st.rows.copies; /* prefill the first copy of each prompt */
        prepare_prompt(s, s->st.seqs[i], in->mask ? in->mask + i * T : NULL, T, s->pos + i * T);
    }
    memcpy(s->st.ids, in->ids, (size_t)rows * sizeof *s->st.ids);
    cf_causal_batch b = {.n_seqs = in->n_inputs, .T = T, .seqs = s->st.seqs, .ids = s->st.ids, .pos = s->pos,
                         .kv = &s->st.kv, .logits = logits, .scratch = s->scratch};
    a->forward(s->m->weights, &b);
    s->st.kv.len = T;
    cf_lm_spread_prefill(&s->st, logits, a->vocab);
    return CF_OK;
}

static cf_status session_step(void *p, const int64_t *tokens, const int32_t *src, float *logits, cf_error *err)
{
    session *s = p;
    const cf_causal_arch *a = &s->m->arch;
    CF_TRY(cf_lm_check_room(a->name, &s->st, err));
    for (int64_t i = 0; i < s->st.rows.n_seqs; i++) {
        if (tokens[i] < 0 || tokens[i] >= a->vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: token id %lld is outside the vocabulary [0, %lld)",
                           a->name, (long long)tokens[i], (long long)a->vocab);
        if (src && (src[i] < 0 || src[i] >= s->st.rows.n_seqs))
            return cf_fail(err, CF_ERR_INTERNAL, "%s: beam source %d out of range", a->name, (int)src[i]);
    }
    cf_lm_step_rows(&s->st, src, tokens, s->pos);
    cf_causal_batch b = {.n_seqs = s->st.rows.n_seqs, .T = 1, .seqs = s->st.seqs, .ids = s->st.ids, .pos = s->pos,
                         .kv = &s->st.kv, .logits = logits, .scratch = s->scratch};
    a->forward(s->m->weights, &b);
    s->st.kv.len++;
    return CF_OK;
}

static const cf_lm_ops causal_ops = {.name = "causal-lm", .open = session_open, .close = session_close,
                                     .start = session_start, .step = session_step};

cf_lm cf_causal_lm_as_lm(const cf_causal_lm *m)
{
    return (cf_lm){.ops = &causal_ops, .model = m, .vocab_size = m->arch.vocab,
                   .max_positions = m->arch.max_positions, .encoder_decoder = false};
}

cf_status cf_causal_lm_forward(const cf_causal_lm *m, const int64_t *ids, int64_t n, float *logits,
                               cf_causal_hidden_fn on_hidden, void *ctx, cf_error *err)
{
    if (n <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: empty input", m->arch.name);
    CF_TRY(cf_causal_lm_check_ids(m, ids, n, err));
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = n};
    void *p;
    CF_TRY(session_open(m, &lim, &p, err));
    session *s = p;
    cf_status st = reserve_rows(s, n, err);
    if (st == CF_OK) {
        prepare_prompt(s, 0, NULL, n, s->pos);
        s->st.seqs[0] = 0;
        cf_causal_batch b = {.n_seqs = 1, .T = n, .seqs = s->st.seqs, .ids = ids, .pos = s->pos, .kv = &s->st.kv,
                             .logits = logits, .all_positions = true, .on_hidden = on_hidden,
                             .on_hidden_ctx = ctx, .scratch = s->scratch};
        m->arch.forward(m->weights, &b);
    }
    session_close(s);
    return st;
}
