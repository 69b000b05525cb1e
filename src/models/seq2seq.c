/* Encoder-decoder sessions over an architecture; see seq2seq.h. */
#include "models/seq2seq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/lm_session.h"

static const struct {
    const char *model_type;
    cf_status (*load)(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err);
} k_families[] = {
    {"bart", cf_bart_load},
    {"marian", cf_marian_load},
    {"t5", cf_t5_load},
    {"mt5", cf_t5_load},
};

#define N_FAMILIES (sizeof k_families / sizeof k_families[0])

bool cf_seq2seq_supports(const cf_config *config)
{
    const char *type = cf_config_str(config, "model_type", "");
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (!strcmp(type, k_families[i].model_type))
            return true;
    return false;
}

cf_status cf_seq2seq_load(const char *dir, const cf_config *config, cf_seq2seq **out, cf_error *err)
{
    *out = NULL;
    const char *type = cf_config_str(config, "model_type", NULL);
    cf_status (*load)(const char *, const cf_config *, cf_seq2seq *, cf_error *) = NULL;
    for (size_t i = 0; type && i < N_FAMILIES; i++)
        if (!strcmp(type, k_families[i].model_type))
            load = k_families[i].load;
    if (!load)
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "%s: \"model_type\" is \"%s\", not an encoder-decoder text model cformer runs "
                       "(bart, marian, t5, mt5)",
                       config->path, type ? type : "(missing)");
    cf_seq2seq *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    m->pad_id = m->eos_id = m->decoder_start_id = -1;
    cf_status s = load(dir, config, m, err);
    if (s != CF_OK) {
        cf_seq2seq_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

void cf_seq2seq_free(cf_seq2seq *m)
{
    if (!m)
        return;
    if (m->free_weights)
        m->free_weights(m->weights);
    free(m);
}

cf_status cf_seq2seq_read_stacks(const cf_config *c, int64_t d_model, cf_seq2seq_stacks *out, cf_error *err)
{
    int64_t v;
    CF_TRY(cf_config_int_in(c, "encoder_ffn_dim", 1, 1 << 20, &out->enc_ffn, err));
    CF_TRY(cf_config_int_in(c, "decoder_ffn_dim", 1, 1 << 20, &out->dec_ffn, err));
    CF_TRY(cf_config_int_in(c, "encoder_layers", 1, 1000, &v, err));
    out->enc_layers = (int)v;
    CF_TRY(cf_config_int_in(c, "decoder_layers", 1, 1000, &v, err));
    out->dec_layers = (int)v;
    CF_TRY(cf_config_int_in(c, "encoder_attention_heads", 1, d_model, &v, err));
    out->enc_heads = (int)v;
    CF_TRY(cf_config_int_in(c, "decoder_attention_heads", 1, d_model, &v, err));
    out->dec_heads = (int)v;
    return CF_OK;
}

void cf_seq2seq_emit(cf_seq2seq_tensor_fn fn, void *ctx, const char *prefix, int i, const float *x, int64_t rows,
                     int64_t cols)
{
    if (!fn)
        return;
    char name[64];
    snprintf(name, sizeof name, "%s.%d", prefix, i);
    fn(ctx, name, x, rows, cols);
}

/* ------------------------------------------------------------------ checks ---- */

static cf_status check_ids(const cf_seq2seq *m, const char *side, const int64_t *ids, int64_t n, int64_t vocab,
                           cf_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: %s token id %lld at position %lld is outside the vocabulary "
                           "[0, %lld)", m->arch.name, side, (long long)ids[i], (long long)i, (long long)vocab);
    return CF_OK;
}

static cf_status check_enc_len(const cf_seq2seq *m, int64_t n, cf_error *err)
{
    if (n <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the encoder input is empty", m->arch.name);
    if (m->arch.max_source > 0 && n > m->arch.max_source)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "%s: the input is %lld tokens long, the encoder takes at most %lld (max_position_embeddings); "
                       "pass {\"truncation\": true} or shorten the text", m->arch.name, (long long)n,
                       (long long)m->arch.max_source);
    return CF_OK;
}

static cf_status check_dec_len(const cf_seq2seq *m, int64_t n, cf_error *err)
{
    const char *key = m->arch.max_target_key ? m->arch.max_target_key : "max_position_embeddings";
    if (m->arch.max_target > 0 && n > m->arch.max_target)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "%s: %lld decoder positions requested, the decoder has %lld (%s); lower max_length",
                       m->arch.name, (long long)n, (long long)m->arch.max_target, key);
    return CF_OK;
}

static cf_status check_decoder_input(const cf_seq2seq *m, const int64_t *ids, int64_t n, cf_error *err)
{
    if (n <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the decoder input is empty", m->arch.name);
    CF_TRY(check_dec_len(m, n, err));
    return check_ids(m, "decoder", ids, n, m->arch.dec_vocab, err);
}

/* Tokens of a right-padded encoder row: the mask must be ones then zeros. */
static cf_status encoder_row_length(const cf_seq2seq *m, const int64_t *mask, int64_t len, int64_t *n, cf_error *err)
{
    *n = len;
    if (!mask)
        return CF_OK;
    int64_t count = 0;
    while (count < len && mask[count])
        count++;
    for (int64_t t = count; t < len; t++)
        if (mask[t])
            return cf_fail(err, CF_ERR_UNSUPPORTED,
                           "%s: the encoder attention mask has a gap at position %lld; only right padding is "
                           "supported", m->arch.name, (long long)count);
    *n = count;
    return CF_OK;
}

/* ----------------------------------------------------------------- session ---- */

static size_t floats_bytes(int64_t n)
{
    return ((size_t)n * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static int64_t kv_dim(const cf_seq2seq_arch *a) { return a->kv_dim > 0 ? a->kv_dim : a->hidden; }

static size_t decode_bytes(const cf_seq2seq_arch *a, const void *w, int64_t rows, int64_t max_len)
{
    return a->decode_bytes_len ? a->decode_bytes_len(w, rows, max_len) : a->decode_bytes(w, rows);
}

typedef struct session {
    const cf_seq2seq *m;
    cf_lm_state st;           /* row tables sized for the prefill */
    int64_t max_enc;
    float *cross;             /* n_inputs blocks, cross_stride floats apart */
    size_t cross_stride;
    int64_t *input_enc_len;   /* [n_inputs] */
    const float **seq_cross;  /* [n_seqs] */
    int64_t *seq_enc_len;     /* [n_seqs] */
    cf_arena arena;
} session;

static void session_close(void *p)
{
    session *s = p;
    if (!s)
        return;
    cf_lm_state_free(&s->st);
    free(s->cross);
    free(s->input_enc_len);
    free(s->seq_cross);
    free(s->seq_enc_len);
    cf_arena_free(&s->arena);
    free(s);
}

static cf_status session_alloc(session *s, int64_t max_len, cf_error *err)
{
    const cf_seq2seq_arch *a = &s->m->arch;
    const void *w = s->m->weights;
    const cf_lm_rows *r = &s->st.rows;
    int64_t rows = r->n_seqs > r->n_inputs * max_len ? r->n_seqs : r->n_inputs * max_len;
    CF_TRY(cf_kv_cache_init(&s->st.kv, a->dec_layers, r->n_seqs, max_len, kv_dim(a), err));
    s->cross_stride = a->cross_floats(w, s->max_enc);
    s->cross = malloc((size_t)r->n_inputs * s->cross_stride * sizeof(float));
    s->input_enc_len = calloc((size_t)r->n_inputs, sizeof *s->input_enc_len);
    s->seq_cross = calloc((size_t)r->n_seqs, sizeof *s->seq_cross);
    s->seq_enc_len = calloc((size_t)r->n_seqs, sizeof *s->seq_enc_len);
    s->st.seqs = malloc((size_t)rows * sizeof *s->st.seqs);
    s->st.ids = malloc((size_t)rows * sizeof *s->st.ids);
    if (!s->cross || !s->input_enc_len || !s->seq_cross || !s->seq_enc_len || !s->st.seqs || !s->st.ids)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %lld sequences", a->name, (long long)r->n_seqs);
    size_t enc = a->encode_bytes(w, s->max_enc) + floats_bytes(s->max_enc * a->hidden);
    size_t dec = decode_bytes(a, w, rows, max_len);
    return cf_arena_init(&s->arena, max_size(enc, dec) + 4 * CF_ARENA_ALIGN, err);
}

static cf_status session_open(const void *model, const cf_lm_limits *lim, void **out, cf_error *err)
{
    const cf_seq2seq *m = model;
    bool features = m->arch.encode_features != NULL; /* fixed-size inputs: lim->enc_len is unused */
    cf_lm_rows rows;
    *out = NULL;
    CF_TRY(cf_lm_rows_open(m->arch.name, lim, &rows, err));
    if (!features && lim->enc_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s is an encoder-decoder: it needs encoder input ids",
                       m->arch.name);
    if (!features)
        CF_TRY(check_enc_len(m, lim->enc_len, err));
    CF_TRY(check_dec_len(m, lim->max_len, err));
    session *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    s->m = m;
    s->st.rows = rows;
    s->max_enc = features ? m->arch.max_source : lim->enc_len;
    cf_status st = session_alloc(s, lim->max_len, err);
    if (st != CF_OK) {
        session_close(s);
        return st;
    }
    *out = s;
    return CF_OK;
}

static cf_status check_encoder_input(const session *s, const cf_lm_inputs *in, cf_error *err)
{
    const cf_seq2seq_arch *a = &s->m->arch;
    if (a->encode_features) {
        if (!in->enc_features || in->enc_features_shape[0] != a->features_shape[0] ||
            in->enc_features_shape[1] != a->features_shape[1])
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the encoder takes features [%lld, %lld] per input; got "
                           "[%lld, %lld]", a->name, (long long)a->features_shape[0], (long long)a->features_shape[1],
                           (long long)in->enc_features_shape[0], (long long)in->enc_features_shape[1]);
        return CF_OK;
    }
    if (!in->enc_ids || in->enc_features)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the encoder takes token ids", a->name);
    if (in->enc_len <= 0 || in->enc_len > s->max_enc)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: encoder input of %lld tokens (session allows 1..%lld)",
                       a->name, (long long)in->enc_len, (long long)s->max_enc);
    return CF_OK;
}

static cf_status check_start(const session *s, const cf_lm_inputs *in, cf_error *err)
{
    const cf_seq2seq *m = s->m;
    CF_TRY(cf_lm_rows_check_start(m->arch.name, &s->st.rows, in, err));
    CF_TRY(check_encoder_input(s, in, err));
    if (in->len <= 0 || in->len > s->st.kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: decoder prompt of %lld tokens (session allows 1..%lld)",
                       m->arch.name, (long long)in->len, (long long)s->st.kv.max_len);
    for (int64_t i = 0; in->mask && i < in->n_inputs * in->len; i++)
        if (!in->mask[i])
            return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: decoder prompts of different lengths (padded) are not "
                           "supported", m->arch.name);
    return check_ids(m, "decoder", in->ids, in->n_inputs * in->len, m->arch.dec_vocab, err);
}

/* Encode input i and project its cross-attention block. */
static cf_status encode_input(session *s, const cf_lm_inputs *in, int64_t i, cf_error *err)
{
    const cf_seq2seq *m = s->m;
    const cf_seq2seq_arch *a = &m->arch;
    const int64_t *ids = in->enc_ids + i * in->enc_len;
    int64_t n = a->max_source;
    if (!a->encode_features) {
        CF_TRY(encoder_row_length(m, in->enc_mask ? in->enc_mask + i * in->enc_len : NULL, in->enc_len, &n, err));
        CF_TRY(check_enc_len(m, n, err));
        CF_TRY(check_ids(m, "encoder", ids, n, a->enc_vocab, err));
    }
    cf_arena_reset(&s->arena);
    float *enc = cf_arena_floats(&s->arena, (size_t)(n * a->hidden));
    if (a->encode_features)
        a->encode_features(m->weights, in->enc_features + (size_t)i * (size_t)(a->features_shape[0] *
                                                                                a->features_shape[1]),
                           enc, &s->arena, NULL, NULL);
    else
        a->encode(m->weights, ids, n, enc, &s->arena, NULL, NULL);
    m->arch.project_cross(m->weights, enc, n, s->cross + (size_t)i * s->cross_stride);
    s->input_enc_len[i] = n;
    return CF_OK;
}

static cf_status session_start(void *p, const cf_lm_inputs *in, float *logits, cf_error *err)
{
    session *s = p;
    const cf_seq2seq *m = s->m;
    CF_TRY(check_start(s, in, err));
    for (int64_t i = 0; i < in->n_inputs; i++)
        CF_TRY(encode_input(s, in, i, err));
    int64_t T = in->len;
    for (int64_t i = 0; i < in->n_inputs; i++) {
        s->st.seqs[i] = i * s->st.rows.copies; /* prefill the first copy of each input */
        s->seq_cross[i] = s->cross + (size_t)i * s->cross_stride;
        s->seq_enc_len[i] = s->input_enc_len[i];
        memset(cf_kv_mask(&s->st.kv, s->st.seqs[i]), 0, (size_t)T * sizeof(float));
        *cf_kv_n_tokens(&s->st.kv, s->st.seqs[i]) = T;
    }
    s->st.kv.len = 0;
    cf_arena_reset(&s->arena);
    cf_seq2seq_batch b = {.n_seqs = in->n_inputs, .T = T, .seqs = s->st.seqs, .ids = in->ids, .cross = s->seq_cross,
                          .enc_lens = s->seq_enc_len, .kv = &s->st.kv, .logits = logits};
    m->arch.decode(m->weights, &b, &s->arena);
    s->st.kv.len = T;
    cf_lm_spread_prefill(&s->st, logits, m->arch.dec_vocab);
    for (int64_t q = 0; q < s->st.rows.n_seqs; q++) { /* beams of an input share its cross-attention block */
        s->seq_cross[q] = s->cross + (size_t)(q / s->st.rows.copies) * s->cross_stride;
        s->seq_enc_len[q] = s->input_enc_len[q / s->st.rows.copies];
    }
    return CF_OK;
}

static cf_status session_step(void *p, const int64_t *tokens, const int32_t *src, float *logits, cf_error *err)
{
    session *s = p;
    const cf_seq2seq *m = s->m;
    CF_TRY(cf_lm_check_room(m->arch.name, &s->st, err));
    CF_TRY(check_ids(m, "decoder", tokens, s->st.rows.n_seqs, m->arch.dec_vocab, err));
    for (int64_t i = 0; src && i < s->st.rows.n_seqs; i++)
        if (src[i] < 0 || src[i] >= s->st.rows.n_seqs || src[i] / s->st.rows.copies != i / s->st.rows.copies)
            return cf_fail(err, CF_ERR_INTERNAL, "%s: beam source %d of sequence %lld is not a beam of its input",
                           m->arch.name, (int)src[i], (long long)i);
    cf_lm_step_rows(&s->st, src, tokens, NULL);
    cf_arena_reset(&s->arena);
    cf_seq2seq_batch b = {.n_seqs = s->st.rows.n_seqs, .T = 1, .seqs = s->st.seqs, .ids = s->st.ids,
                          .cross = s->seq_cross,
                          .enc_lens = s->seq_enc_len, .kv = &s->st.kv, .logits = logits};
    m->arch.decode(m->weights, &b, &s->arena);
    s->st.kv.len++;
    return CF_OK;
}

static const cf_lm_ops seq2seq_ops = {.name = "seq2seq", .open = session_open, .close = session_close,
                                      .start = session_start, .step = session_step};

cf_lm cf_seq2seq_as_lm(const cf_seq2seq *m)
{
    return (cf_lm){.ops = &seq2seq_ops, .model = m, .vocab_size = m->arch.dec_vocab,
                   .max_positions = m->arch.max_target, .encoder_decoder = true,
                   .beam_masked_token = m->beam_mask_pad ? m->pad_id : -1, .has_beam_masked_token = m->beam_mask_pad};
}

/* ------------------------------------------------------------ full forward ---- */

cf_status cf_seq2seq_decode_full(const cf_seq2seq *m, const float *enc, int64_t enc_len, const int64_t *dec_ids,
                                 int64_t dec_len, float *logits, float *last_hidden, cf_seq2seq_tensor_fn fn,
                                 void *ctx, cf_error *err)
{
    const cf_seq2seq_arch *a = &m->arch;
    CF_TRY(check_decoder_input(m, dec_ids, dec_len, err));
    cf_kv_cache kv;
    CF_TRY(cf_kv_cache_init(&kv, a->dec_layers, 1, dec_len, kv_dim(a), err));
    cf_arena arena = {0};
    float *cross = malloc(a->cross_floats(m->weights, enc_len) * sizeof(float));
    cf_status s = cross ? cf_arena_init(&arena, decode_bytes(a, m->weights, dec_len, dec_len) + 4 * CF_ARENA_ALIGN,
                                        err)
                        : cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for cross-attention keys", a->name);
    if (s == CF_OK) {
        a->project_cross(m->weights, enc, enc_len, cross);
        memset(cf_kv_mask(&kv, 0), 0, (size_t)dec_len * sizeof(float));
        const float *blocks[1] = {cross};
        cf_seq2seq_batch b = {.n_seqs = 1, .T = dec_len, .seqs = (int64_t[]){0}, .ids = dec_ids, .cross = blocks,
                              .enc_lens = &enc_len, .kv = &kv, .logits = logits, .all_positions = true,
                              .last_hidden = last_hidden, .fn = fn, .ctx = ctx};
        a->decode(m->weights, &b, &arena);
    }
    cf_arena_free(&arena);
    free(cross);
    cf_kv_cache_free(&kv);
    return s;
}

cf_status cf_seq2seq_forward(const cf_seq2seq *m, const int64_t *enc_ids, int64_t enc_len, const int64_t *dec_ids,
                             int64_t dec_len, float *logits, float *last_hidden, cf_seq2seq_tensor_fn fn, void *ctx,
                             cf_error *err)
{
    const cf_seq2seq_arch *a = &m->arch;
    if (!a->encode)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the encoder takes features, not token ids", a->name);
    CF_TRY(check_enc_len(m, enc_len, err));
    CF_TRY(check_decoder_input(m, dec_ids, dec_len, err));
    CF_TRY(check_ids(m, "encoder", enc_ids, enc_len, a->enc_vocab, err));
    cf_arena arena;
    size_t enc_bytes = a->encode_bytes(m->weights, enc_len) + floats_bytes(enc_len * a->hidden);
    CF_TRY(cf_arena_init(&arena, enc_bytes + 4 * CF_ARENA_ALIGN, err));
    float *enc = cf_arena_floats(&arena, (size_t)(enc_len * a->hidden));
    a->encode(m->weights, enc_ids, enc_len, enc, &arena, fn, ctx);
    cf_status s = cf_seq2seq_decode_full(m, enc, enc_len, dec_ids, dec_len, logits, last_hidden, fn, ctx, err);
    cf_arena_free(&arena);
    return s;
}
