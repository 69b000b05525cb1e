/* Encoder-decoder sessions over an architecture; see seq2seq.h. */
#include "models/seq2seq.h"

#include <stdlib.h>
#include <string.h>

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
    if (m->arch.max_target > 0 && n > m->arch.max_target)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "%s: %lld decoder positions requested, the decoder has %lld (max_position_embeddings); "
                       "lower max_length", m->arch.name, (long long)n, (long long)m->arch.max_target);
    return CF_OK;
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
    int64_t n_inputs, copies, n_seqs, max_enc;
    cf_kv_cache kv;
    float *cross;             /* n_inputs blocks, cross_stride floats apart */
    size_t cross_stride;
    int64_t *input_enc_len;   /* [n_inputs] */
    const float **seq_cross;  /* [n_seqs] */
    int64_t *seq_enc_len;     /* [n_seqs] */
    int64_t *seqs, *ids;      /* row tables, sized for the prefill */
    cf_arena arena;
} session;

static void session_close(void *p)
{
    session *s = p;
    if (!s)
        return;
    cf_kv_cache_free(&s->kv);
    free(s->cross);
    free(s->input_enc_len);
    free(s->seq_cross);
    free(s->seq_enc_len);
    free(s->seqs);
    free(s->ids);
    cf_arena_free(&s->arena);
    free(s);
}

static cf_status session_alloc(session *s, int64_t max_len, cf_error *err)
{
    const cf_seq2seq_arch *a = &s->m->arch;
    const void *w = s->m->weights;
    int64_t rows = s->n_seqs > s->n_inputs * max_len ? s->n_seqs : s->n_inputs * max_len;
    CF_TRY(cf_kv_cache_init(&s->kv, a->dec_layers, s->n_seqs, max_len, kv_dim(a), err));
    s->cross_stride = a->cross_floats(w, s->max_enc);
    s->cross = malloc((size_t)s->n_inputs * s->cross_stride * sizeof(float));
    s->input_enc_len = calloc((size_t)s->n_inputs, sizeof *s->input_enc_len);
    s->seq_cross = calloc((size_t)s->n_seqs, sizeof *s->seq_cross);
    s->seq_enc_len = calloc((size_t)s->n_seqs, sizeof *s->seq_enc_len);
    s->seqs = malloc((size_t)rows * sizeof *s->seqs);
    s->ids = malloc((size_t)rows * sizeof *s->ids);
    if (!s->cross || !s->input_enc_len || !s->seq_cross || !s->seq_enc_len || !s->seqs || !s->ids)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %lld sequences", a->name, (long long)s->n_seqs);
    size_t enc = a->encode_bytes(w, s->max_enc) + floats_bytes(s->max_enc * a->hidden);
    size_t dec = decode_bytes(a, w, rows, max_len);
    return cf_arena_init(&s->arena, max_size(enc, dec) + 4 * CF_ARENA_ALIGN, err);
}

static cf_status session_open(const void *model, const cf_lm_limits *lim, void **out, cf_error *err)
{
    const cf_seq2seq *m = model;
    *out = NULL;
    if (lim->n_inputs <= 0 || lim->copies <= 0 || lim->max_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: empty generation request", m->arch.name);
    if (lim->enc_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s is an encoder-decoder: it needs encoder input ids",
                       m->arch.name);
    CF_TRY(check_enc_len(m, lim->enc_len, err));
    CF_TRY(check_dec_len(m, lim->max_len, err));
    session *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    s->m = m;
    s->n_inputs = lim->n_inputs;
    s->copies = lim->copies;
    s->n_seqs = lim->n_inputs * lim->copies;
    s->max_enc = lim->enc_len;
    cf_status st = session_alloc(s, lim->max_len, err);
    if (st != CF_OK) {
        session_close(s);
        return st;
    }
    *out = s;
    return CF_OK;
}

static cf_status check_start(const session *s, const cf_lm_inputs *in, cf_error *err)
{
    const cf_seq2seq *m = s->m;
    if (in->n_inputs != s->n_inputs || in->copies != s->copies)
        return cf_fail(err, CF_ERR_INTERNAL, "%s: start with %lld x %lld sequences, session holds %lld x %lld",
                       m->arch.name, (long long)in->n_inputs, (long long)in->copies, (long long)s->n_inputs,
                       (long long)s->copies);
    if (!in->enc_ids || in->enc_features)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the encoder takes token ids", m->arch.name);
    if (in->enc_len <= 0 || in->enc_len > s->max_enc)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: encoder input of %lld tokens (session allows 1..%lld)",
                       m->arch.name, (long long)in->enc_len, (long long)s->max_enc);
    if (in->len <= 0 || in->len > s->kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: decoder prompt of %lld tokens (session allows 1..%lld)",
                       m->arch.name, (long long)in->len, (long long)s->kv.max_len);
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
    const int64_t *ids = in->enc_ids + i * in->enc_len;
    int64_t n;
    CF_TRY(encoder_row_length(m, in->enc_mask ? in->enc_mask + i * in->enc_len : NULL, in->enc_len, &n, err));
    CF_TRY(check_enc_len(m, n, err));
    CF_TRY(check_ids(m, "encoder", ids, n, m->arch.enc_vocab, err));
    cf_arena_reset(&s->arena);
    float *enc = cf_arena_floats(&s->arena, (size_t)(n * m->arch.hidden));
    m->arch.encode(m->weights, ids, n, enc, &s->arena, NULL, NULL);
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
        s->seqs[i] = i * s->copies; /* prefill the first copy of each input */
        s->seq_cross[i] = s->cross + (size_t)i * s->cross_stride;
        s->seq_enc_len[i] = s->input_enc_len[i];
        memset(cf_kv_mask(&s->kv, s->seqs[i]), 0, (size_t)T * sizeof(float));
        *cf_kv_n_tokens(&s->kv, s->seqs[i]) = T;
    }
    s->kv.len = 0;
    cf_arena_reset(&s->arena);
    cf_seq2seq_batch b = {.n_seqs = in->n_inputs, .T = T, .seqs = s->seqs, .ids = in->ids, .cross = s->seq_cross,
                          .enc_lens = s->seq_enc_len, .kv = &s->kv, .logits = logits};
    m->arch.decode(m->weights, &b, &s->arena);
    s->kv.len = T;
    size_t V = (size_t)m->arch.dec_vocab;
    for (int64_t i = in->n_inputs - 1; i >= 0; i--) { /* spread input i to its copies, last input first */
        cf_kv_cache_replicate(&s->kv, i * s->copies, s->copies);
        for (int64_t c = s->copies - 1; c >= 0; c--)
            if (i * s->copies + c != i)
                memcpy(logits + (size_t)(i * s->copies + c) * V, logits + (size_t)i * V, V * sizeof(float));
    }
    for (int64_t q = 0; q < s->n_seqs; q++) { /* beams of an input share its cross-attention block */
        s->seq_cross[q] = s->cross + (size_t)(q / s->copies) * s->cross_stride;
        s->seq_enc_len[q] = s->input_enc_len[q / s->copies];
    }
    return CF_OK;
}

static cf_status session_step(void *p, const int64_t *tokens, const int32_t *src, float *logits, cf_error *err)
{
    session *s = p;
    const cf_seq2seq *m = s->m;
    if (s->kv.len >= s->kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the session's %lld positions are used up", m->arch.name,
                       (long long)s->kv.max_len);
    CF_TRY(check_ids(m, "decoder", tokens, s->n_seqs, m->arch.dec_vocab, err));
    for (int64_t i = 0; src && i < s->n_seqs; i++)
        if (src[i] < 0 || src[i] >= s->n_seqs || src[i] / s->copies != i / s->copies)
            return cf_fail(err, CF_ERR_INTERNAL, "%s: beam source %d of sequence %lld is not a beam of its input",
                           m->arch.name, (int)src[i], (long long)i);
    cf_kv_cache_reorder(&s->kv, src);
    for (int64_t i = 0; i < s->n_seqs; i++) {
        cf_kv_mask(&s->kv, i)[s->kv.len] = 0.0f;
        (*cf_kv_n_tokens(&s->kv, i))++;
        s->seqs[i] = i;
        s->ids[i] = tokens[i];
    }
    cf_arena_reset(&s->arena);
    cf_seq2seq_batch b = {.n_seqs = s->n_seqs, .T = 1, .seqs = s->seqs, .ids = s->ids, .cross = s->seq_cross,
                          .enc_lens = s->seq_enc_len, .kv = &s->kv, .logits = logits};
    m->arch.decode(m->weights, &b, &s->arena);
    s->kv.len++;
    return CF_OK;
}

static const cf_lm_ops seq2seq_ops = {
    .name = "seq2seq",
    .open = session_open,
    .close = session_close,
    .start = session_start,
    .step = session_step,
};

cf_lm cf_seq2seq_as_lm(const cf_seq2seq *m)
{
    return (cf_lm){.ops = &seq2seq_ops, .model = m, .vocab_size = m->arch.dec_vocab,
                   .max_positions = m->arch.max_target, .encoder_decoder = true,
                   .beam_masked_token = m->beam_mask_pad ? m->pad_id : -1, .has_beam_masked_token = m->beam_mask_pad};
}

/* ------------------------------------------------------------ full forward ---- */

cf_status cf_seq2seq_forward(const cf_seq2seq *m, const int64_t *enc_ids, int64_t enc_len, const int64_t *dec_ids,
                             int64_t dec_len, float *logits, float *last_hidden, cf_seq2seq_tensor_fn fn, void *ctx,
                             cf_error *err)
{
    const cf_seq2seq_arch *a = &m->arch;
    CF_TRY(check_enc_len(m, enc_len, err));
    if (dec_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: the decoder input is empty", a->name);
    CF_TRY(check_dec_len(m, dec_len, err));
    CF_TRY(check_ids(m, "encoder", enc_ids, enc_len, a->enc_vocab, err));
    CF_TRY(check_ids(m, "decoder", dec_ids, dec_len, a->dec_vocab, err));
    cf_kv_cache kv;
    CF_TRY(cf_kv_cache_init(&kv, a->dec_layers, 1, dec_len, kv_dim(a), err));
    cf_arena arena = {0};
    float *cross = malloc(a->cross_floats(m->weights, enc_len) * sizeof(float));
    size_t enc_bytes = a->encode_bytes(m->weights, enc_len) + floats_bytes(enc_len * a->hidden);
    size_t dec_bytes = decode_bytes(a, m->weights, dec_len, dec_len);
    cf_status s = cross ? cf_arena_init(&arena, max_size(enc_bytes, dec_bytes) +
                                                    4 * CF_ARENA_ALIGN, err)
                        : cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for cross-attention keys", a->name);
    if (s == CF_OK) {
        float *enc = cf_arena_floats(&arena, (size_t)(enc_len * a->hidden));
        a->encode(m->weights, enc_ids, enc_len, enc, &arena, fn, ctx);
        a->project_cross(m->weights, enc, enc_len, cross);
        cf_arena_reset(&arena);
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
