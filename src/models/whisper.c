/* Whisper encoder-decoder; see whisper.h. */
#include "models/whisper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "kernels/kernels.h"
#include "nn/activation.h"
#include "nn/conv1d.h"
#include "nn/ffn.h"
#include "nn/mha.h"
#include "nn/norm.h"
#include "nn/positional.h"
#include "nn/weights.h"

typedef struct enc_layer {
    cf_norm attn_norm, ffn_norm;
    cf_mha attn;
    cf_ffn ffn;
} enc_layer;

typedef struct dec_layer {
    cf_norm self_norm, cross_norm, ffn_norm;
    cf_mha self_attn, cross_attn;
    cf_ffn ffn;
} dec_layer;

struct cf_whisper {
    int64_t d, vocab, n_mels, n_frames, enc_len, max_target, enc_ffn, dec_ffn;
    int enc_layers, dec_layers, enc_heads, dec_heads;
    float embed_scale;
    cf_activation act;
    cf_conv1d conv1, conv2;
    cf_weight enc_pos_stored;
    float *enc_pos_computed; /* when the checkpoint stores no encoder positions */
    const float *enc_pos;
    enc_layer *enc;
    cf_norm enc_norm;
    cf_weight embed_tokens, dec_pos, proj_out;
    cf_linear lm_head; /* over proj_out when stored, else the tied embeddings; packed for the per-step matvec */
    dec_layer *dec;
    cf_norm dec_norm;
    cf_safetensors *st;
    cf_arena arena; /* for cf_whisper_encode / cf_whisper_decode_full */
};

bool cf_whisper_supports(const cf_config *config)
{
    return !strcmp(cf_config_str(config, "model_type", ""), "whisper");
}

int cf_whisper_n_mels(const cf_whisper *m) { return (int)m->n_mels; }
int64_t cf_whisper_n_frames(const cf_whisper *m) { return m->n_frames; }
int64_t cf_whisper_enc_len(const cf_whisper *m) { return m->enc_len; }
int64_t cf_whisper_hidden(const cf_whisper *m) { return m->d; }
int64_t cf_whisper_vocab(const cf_whisper *m) { return m->vocab; }
int64_t cf_whisper_max_target(const cf_whisper *m) { return m->max_target; }

void cf_whisper_free(cf_whisper *m)
{
    if (!m)
        return;
    cf_conv1d_free(&m->conv1);
    cf_conv1d_free(&m->conv2);
    cf_weight_free(&m->enc_pos_stored);
    free(m->enc_pos_computed);
    for (int i = 0; m->enc && i < m->enc_layers; i++) {
        cf_norm_free(&m->enc[i].attn_norm);
        cf_norm_free(&m->enc[i].ffn_norm);
        cf_mha_free(&m->enc[i].attn);
        cf_ffn_free(&m->enc[i].ffn);
    }
    for (int i = 0; m->dec && i < m->dec_layers; i++) {
        dec_layer *l = &m->dec[i];
        cf_norm_free(&l->self_norm);
        cf_norm_free(&l->cross_norm);
        cf_norm_free(&l->ffn_norm);
        cf_mha_free(&l->self_attn);
        cf_mha_free(&l->cross_attn);
        cf_ffn_free(&l->ffn);
    }
    free(m->enc);
    free(m->dec);
    cf_norm_free(&m->enc_norm);
    cf_norm_free(&m->dec_norm);
    cf_weight_free(&m->embed_tokens);
    cf_weight_free(&m->dec_pos);
    cf_weight_free(&m->proj_out);
    cf_linear_free(&m->lm_head);
    cf_arena_free(&m->arena);
    cf_st_close(m->st);
    free(m);
}

/* ------------------------------------------------------------------ config ---- */

static cf_status require_int(const cf_config *c, const char *key, int64_t lo, int64_t hi, int64_t *out,
                             cf_error *err)
{
    CF_TRY(cf_config_require_int(c, key, out, err));
    if (*out < lo || *out > hi)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" is %lld, expected %lld..%lld", c->path, key, (long long)*out,
                       (long long)lo, (long long)hi);
    return CF_OK;
}

static cf_status read_config(cf_whisper *m, const cf_config *c, cf_error *err)
{
    int64_t v;
    CF_TRY(require_int(c, "d_model", 1, 1 << 16, &m->d, err));
    CF_TRY(require_int(c, "vocab_size", 1, 1 << 24, &m->vocab, err));
    CF_TRY(require_int(c, "num_mel_bins", 1, 1024, &m->n_mels, err));
    CF_TRY(require_int(c, "max_source_positions", 1, 1 << 20, &m->enc_len, err));
    CF_TRY(require_int(c, "max_target_positions", 1, 1 << 20, &m->max_target, err));
    CF_TRY(require_int(c, "encoder_ffn_dim", 1, 1 << 20, &m->enc_ffn, err));
    CF_TRY(require_int(c, "decoder_ffn_dim", 1, 1 << 20, &m->dec_ffn, err));
    CF_TRY(require_int(c, "encoder_layers", 1, 1000, &v, err));
    m->enc_layers = (int)v;
    CF_TRY(require_int(c, "decoder_layers", 1, 1000, &v, err));
    m->dec_layers = (int)v;
    CF_TRY(require_int(c, "encoder_attention_heads", 1, m->d, &v, err));
    m->enc_heads = (int)v;
    CF_TRY(require_int(c, "decoder_attention_heads", 1, m->d, &v, err));
    m->dec_heads = (int)v;
    m->n_frames = 2 * m->enc_len; /* conv2 has stride 2 */
    m->embed_scale = cf_config_bool(c, "scale_embedding", false) ? sqrtf((float)m->d) : 1.0f;
    return cf_activation_parse(cf_config_str(c, "activation_function", "gelu"), "activation_function", &m->act,
                               err);
}

/* ----------------------------------------------------------------- weights ---- */

static cf_status load_enc_layer(cf_whisper *m, int i, cf_error *err)
{
    enc_layer *l = &m->enc[i];
    char p[256], q[256];
#define N(fmt) (snprintf(p, sizeof p, "model.encoder.layers.%d." fmt, i), p)
    CF_TRY(cf_norm_load_layer(&l->attn_norm, m->st, N("self_attn_layer_norm"), m->d, 1e-5f, err));
    CF_TRY(cf_norm_load_layer(&l->ffn_norm, m->st, N("final_layer_norm"), m->d, 1e-5f, err));
    CF_TRY(cf_mha_load(&l->attn, m->st, N("self_attn"), m->d, m->enc_heads, false, err));
    snprintf(q, sizeof q, "model.encoder.layers.%d.fc2", i);
    CF_TRY(cf_ffn_load(&l->ffn, m->st, N("fc1"), q, m->d, m->enc_ffn, m->act, err));
#undef N
    return CF_OK;
}

static cf_status load_dec_layer(cf_whisper *m, int i, cf_error *err)
{
    dec_layer *l = &m->dec[i];
    char p[256], q[256];
#define N(fmt) (snprintf(p, sizeof p, "model.decoder.layers.%d." fmt, i), p)
    CF_TRY(cf_norm_load_layer(&l->self_norm, m->st, N("self_attn_layer_norm"), m->d, 1e-5f, err));
    CF_TRY(cf_norm_load_layer(&l->cross_norm, m->st, N("encoder_attn_layer_norm"), m->d, 1e-5f, err));
    CF_TRY(cf_norm_load_layer(&l->ffn_norm, m->st, N("final_layer_norm"), m->d, 1e-5f, err));
    CF_TRY(cf_mha_load(&l->self_attn, m->st, N("self_attn"), m->d, m->dec_heads, false, err));
    CF_TRY(cf_mha_load(&l->cross_attn, m->st, N("encoder_attn"), m->d, m->dec_heads, false, err));
    snprintf(q, sizeof q, "model.decoder.layers.%d.fc2", i);
    CF_TRY(cf_ffn_load(&l->ffn, m->st, N("fc1"), q, m->d, m->dec_ffn, m->act, err));
#undef N
    return CF_OK;
}

static cf_status load_encoder(cf_whisper *m, cf_error *err)
{
    cf_conv1d_spec c1 = {.in_ch = m->n_mels, .out_ch = m->d, .kernel = 3, .stride = 1, .pad = 1, .groups = 1,
                         .has_bias = true};
    cf_conv1d_spec c2 = {.in_ch = m->d, .out_ch = m->d, .kernel = 3, .stride = 2, .pad = 1, .groups = 1,
                         .has_bias = true};
    CF_TRY(cf_conv1d_load(&m->conv1, m->st, "model.encoder.conv1", &c1, err));
    CF_TRY(cf_conv1d_load(&m->conv2, m->st, "model.encoder.conv2", &c2, err));
    if (cf_st_find(m->st, "model.encoder.embed_positions.weight")) {
        CF_TRY(cf_weight_load(&m->enc_pos_stored, m->st, "model.encoder.embed_positions.weight", 2,
                              (int64_t[]){m->enc_len, m->d}, err));
        m->enc_pos = m->enc_pos_stored.data;
    } else {
        CF_TRY(cf_sinusoids(m->enc_len, m->d, &m->enc_pos_computed, err));
        m->enc_pos = m->enc_pos_computed;
    }
    m->enc = calloc((size_t)m->enc_layers, sizeof *m->enc);
    if (!m->enc)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->enc_layers; i++)
        CF_TRY(load_enc_layer(m, i, err));
    return cf_norm_load_layer(&m->enc_norm, m->st, "model.encoder.layer_norm", m->d, 1e-5f, err);
}

static cf_status load_decoder(cf_whisper *m, cf_error *err)
{
    CF_TRY(cf_weight_load(&m->embed_tokens, m->st, "model.decoder.embed_tokens.weight", 2,
                          (int64_t[]){m->vocab, m->d}, err));
    CF_TRY(cf_weight_load(&m->dec_pos, m->st, "model.decoder.embed_positions.weight", 2,
                          (int64_t[]){m->max_target, m->d}, err));
    const float *out_w = m->embed_tokens.data;
    if (cf_st_find(m->st, "proj_out.weight")) {
        CF_TRY(cf_weight_load(&m->proj_out, m->st, "proj_out.weight", 2, (int64_t[]){m->vocab, m->d}, err));
        out_w = m->proj_out.data;
    }
    CF_TRY(cf_linear_init_view_packed(&m->lm_head, out_w, NULL, m->d, m->vocab, err));
    m->dec = calloc((size_t)m->dec_layers, sizeof *m->dec);
    if (!m->dec)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->dec_layers; i++)
        CF_TRY(load_dec_layer(m, i, err));
    return cf_norm_load_layer(&m->dec_norm, m->st, "model.decoder.layer_norm", m->d, 1e-5f, err);
}

static cf_status reserve(cf_arena *a, size_t need, cf_error *err)
{
    if (a->base && a->size >= need)
        return CF_OK;
    cf_arena_free(a);
    return cf_arena_init(a, need, err);
}

cf_status cf_whisper_load(const char *dir, const cf_config *config, cf_whisper **out, cf_error *err)
{
    *out = NULL;
    cf_whisper *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status s = read_config(m, config, err);
    if (s == CF_OK)
        s = cf_st_open_dir(dir, &m->st, err);
    if (s == CF_OK)
        s = load_encoder(m, err);
    if (s == CF_OK)
        s = load_decoder(m, err);
    if (s != CF_OK) {
        cf_whisper_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

/* ----------------------------------------------------------------- encoder ---- */

static size_t floats_bytes(int64_t n) { return ((size_t)n * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1); }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static size_t encoder_bytes(const cf_whisper *m)
{
    int64_t F = m->n_frames, L = m->enc_len, d = m->d;
    size_t conv = floats_bytes(F * m->n_mels) + floats_bytes(F * d) +
                  max_size(cf_conv1d_scratch_bytes(&m->conv1, F), cf_conv1d_scratch_bytes(&m->conv2, F));
    size_t layer = 2 * floats_bytes(L * d) +
                   max_size(cf_mha_scratch_bytes(&m->enc[0].attn, L), cf_ffn_scratch_bytes(&m->enc[0].ffn, L));
    return floats_bytes(L * d) + max_size(conv, layer) + 8 * CF_ARENA_ALIGN;
}

static void emit(cf_whisper_tensor_fn fn, void *ctx, const char *prefix, int i, const float *x, int64_t rows,
                 int64_t cols)
{
    if (!fn)
        return;
    char name[64];
    snprintf(name, sizeof name, "%s.%d", prefix, i);
    fn(ctx, name, x, rows, cols);
}

/* Front end: [n_mels, frames] -> gelu(conv2(gelu(conv1(x)))) + positions, into x [enc_len, d]. */
static void encoder_front(const cf_whisper *m, const float *features, float *x, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t F = m->n_frames, d = m->d;
    float *frames = cf_arena_floats(a, (size_t)(F * m->n_mels)), *c1 = cf_arena_floats(a, (size_t)(F * d));
    for (int64_t c = 0; c < m->n_mels; c++) /* channels-last for the convolutions */
        for (int64_t t = 0; t < F; t++)
            frames[t * m->n_mels + c] = features[c * F + t];
    cf_conv1d_forward(&m->conv1, frames, F, c1, a);
    cf_activation_apply(CF_ACT_GELU, c1, F * d);
    cf_conv1d_forward(&m->conv2, c1, F, x, a);
    cf_activation_apply(CF_ACT_GELU, x, m->enc_len * d);
    cf_add(x, m->enc_pos, m->enc_len * d);
    cf_arena_rewind(a, mark);
}

static void encoder_layer(const enc_layer *l, float *x, int64_t L, float *h, float *sub, cf_arena *a)
{
    int64_t d = l->attn.hidden;
    cf_norm_forward(&l->attn_norm, x, h, L);
    cf_mha_self_forward(&l->attn, h, L, sub, a);
    cf_add(x, sub, L * d);
    cf_norm_forward(&l->ffn_norm, x, h, L);
    cf_ffn_forward(&l->ffn, h, L, sub, a);
    cf_add(x, sub, L * d);
}

static void encode(const cf_whisper *m, const float *features, float *out, cf_arena *a, cf_whisper_tensor_fn fn,
                   void *ctx)
{
    size_t mark = cf_arena_mark(a);
    int64_t L = m->enc_len, d = m->d;
    float *x = cf_arena_floats(a, (size_t)(L * d));
    encoder_front(m, features, x, a);
    float *h = cf_arena_floats(a, (size_t)(L * d)), *sub = cf_arena_floats(a, (size_t)(L * d));
    for (int i = 0; i < m->enc_layers; i++) {
        emit(fn, ctx, "encoder_hidden_states", i, x, L, d);
        encoder_layer(&m->enc[i], x, L, h, sub, a);
    }
    cf_norm_forward(&m->enc_norm, x, out, L);
    emit(fn, ctx, "encoder_hidden_states", m->enc_layers, out, L, d);
    cf_arena_rewind(a, mark);
}

cf_status cf_whisper_encode(cf_whisper *m, const float *features, float *out, cf_whisper_tensor_fn fn, void *ctx,
                            cf_error *err)
{
    CF_TRY(reserve(&m->arena, encoder_bytes(m), err));
    cf_arena_reset(&m->arena);
    encode(m, features, out, &m->arena, fn, ctx);
    return CF_OK;
}

/* ----------------------------------------------------------------- decoder ---- */

/* Cross-attention keys and values of one input: per layer K then V, each [enc_len, d]. */
static size_t cross_floats(const cf_whisper *m) { return (size_t)m->dec_layers * 2 * (size_t)(m->enc_len * m->d); }

static void project_cross(const cf_whisper *m, const float *enc, float *cross)
{
    size_t per = (size_t)(m->enc_len * m->d);
    for (int l = 0; l < m->dec_layers; l++)
        cf_mha_project_kv(&m->dec[l].cross_attn, enc, m->enc_len, cross + 2 * l * per, cross + (2 * l + 1) * per);
}

typedef struct dec_batch {
    int64_t n_seqs, T;
    const int64_t *seqs;   /* [n_seqs] cache sequence of each row block */
    const int64_t *ids;    /* [n_seqs * T] */
    const float *const *cross; /* [n_seqs] cross K/V block of each row block */
    cf_kv_cache *kv;       /* positions kv->len .. kv->len + T */
    float *logits;         /* [n_seqs, V] last rows, or [n_seqs * T, V] */
    bool all_positions;
    cf_whisper_tensor_fn fn;
    void *ctx;
} dec_batch;

static size_t decoder_bytes(const cf_whisper *m, int64_t rows)
{
    size_t sub = max_size(cf_mha_scratch_bytes(&m->dec[0].self_attn, rows), cf_ffn_scratch_bytes(&m->dec[0].ffn, rows));
    return 3 * floats_bytes(rows * m->d) + sub + 8 * CF_ARENA_ALIGN;
}

static void embed(const cf_whisper *m, const dec_batch *b, float *x)
{
    int64_t d = m->d;
    cf_embedding_gather(m->embed_tokens.data, d, b->ids, b->n_seqs * b->T, x);
    if (m->embed_scale != 1.0f)
        cf_scale(x, m->embed_scale, b->n_seqs * b->T * d);
    for (int64_t s = 0; s < b->n_seqs; s++)
        for (int64_t t = 0; t < b->T; t++)
            cf_add(x + (s * b->T + t) * d, m->dec_pos.data + (b->kv->len + t) * d, d);
}

static void cross_attend(const cf_whisper *m, int l, const dec_batch *b, const float *h, float *sub, cf_arena *a)
{
    size_t per = (size_t)(m->enc_len * m->d);
    for (int64_t s = 0; s < b->n_seqs; s++) {
        const float *k = b->cross[s] + 2 * l * per, *v = k + per;
        cf_mha_cross_forward(&m->dec[l].cross_attn, h + s * b->T * m->d, b->T, k, v, m->enc_len,
                             sub + s * b->T * m->d, a);
    }
}

static void decoder_layer(const cf_whisper *m, int l, const dec_batch *b, float *x, float *h, float *sub,
                          cf_arena *a)
{
    const dec_layer *L = &m->dec[l];
    int64_t R = b->n_seqs * b->T, d = m->d;
    cf_norm_forward(&L->self_norm, x, h, R);
    cf_mha_cached_forward(&L->self_attn, b->kv, l, b->seqs, b->n_seqs, b->T, h, sub, a);
    cf_add(x, sub, R * d);
    cf_norm_forward(&L->cross_norm, x, h, R);
    cross_attend(m, l, b, h, sub, a);
    cf_add(x, sub, R * d);
    cf_norm_forward(&L->ffn_norm, x, h, R);
    cf_ffn_forward(&L->ffn, h, R, sub, a);
    cf_add(x, sub, R * d);
}

/* logits = h W_out^T over rows of h (one row per step: the packed matvec). */
static void project_vocab(const cf_whisper *m, const float *h, int64_t rows, float *logits)
{
    cf_linear_forward(&m->lm_head, h, rows, logits);
}

static void decoder_forward(const cf_whisper *m, const dec_batch *b, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t R = b->n_seqs * b->T, d = m->d;
    float *x = cf_arena_floats(a, (size_t)(R * d)), *h = cf_arena_floats(a, (size_t)(R * d));
    float *sub = cf_arena_floats(a, (size_t)(R * d));
    embed(m, b, x);
    for (int l = 0; l < m->dec_layers; l++) {
        emit(b->fn, b->ctx, "decoder_hidden_states", l, x, R, d);
        decoder_layer(m, l, b, x, h, sub, a);
    }
    if (b->all_positions) {
        cf_norm_forward(&m->dec_norm, x, h, R);
        emit(b->fn, b->ctx, "decoder_hidden_states", m->dec_layers, h, R, d);
        project_vocab(m, h, R, b->logits);
    } else {
        for (int64_t s = 0; s < b->n_seqs; s++) /* only each sequence's last position is scored */
            cf_norm_forward(&m->dec_norm, x + ((s + 1) * b->T - 1) * d, h + s * d, 1);
        project_vocab(m, h, b->n_seqs, b->logits);
    }
    cf_arena_rewind(a, mark);
}

static cf_status check_ids(const cf_whisper *m, const int64_t *ids, int64_t n, cf_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "whisper: token id %lld is outside the vocabulary [0, %lld)",
                           (long long)ids[i], (long long)m->vocab);
    return CF_OK;
}

cf_status cf_whisper_decode_full(cf_whisper *m, const float *enc, const int64_t *ids, int64_t n, float *logits,
                                 cf_whisper_tensor_fn fn, void *ctx, cf_error *err)
{
    if (n <= 0 || n > m->max_target)
        return cf_fail(err, CF_ERR_INVALID_ARG, "whisper: %lld decoder tokens; the model takes 1..%lld",
                       (long long)n, (long long)m->max_target);
    CF_TRY(check_ids(m, ids, n, err));
    cf_kv_cache kv;
    CF_TRY(cf_kv_cache_init(&kv, m->dec_layers, 1, n, m->d, err));
    float *cross = malloc(cross_floats(m) * sizeof(float));
    cf_status s = cross ? reserve(&m->arena, decoder_bytes(m, n), err)
                        : cf_fail(err, CF_ERR_NOMEM, "whisper: out of memory for cross-attention keys");
    if (s == CF_OK) {
        cf_arena_reset(&m->arena);
        project_cross(m, enc, cross);
        memset(cf_kv_mask(&kv, 0), 0, (size_t)n * sizeof(float));
        const float *blocks[1] = {cross};
        dec_batch b = {.n_seqs = 1, .T = n, .seqs = (int64_t[]){0}, .ids = ids, .cross = blocks, .kv = &kv,
                       .logits = logits, .all_positions = true, .fn = fn, .ctx = ctx};
        decoder_forward(m, &b, &m->arena);
        if (fn)
            fn(ctx, "logits", logits, n, m->vocab);
    }
    free(cross);
    cf_kv_cache_free(&kv);
    return s;
}

/* ------------------------------------------------------------- generation ---- */

typedef struct session {
    const cf_whisper *m;
    int64_t n_inputs, copies, n_seqs, max_len;
    cf_kv_cache kv;
    float *cross;              /* n_inputs blocks of cross_floats */
    const float **seq_cross;   /* [n_seqs] block of each sequence */
    int64_t *seqs, *ids;       /* row tables, sized for the prompt */
    cf_arena arena;
} session;

static void session_close(void *p)
{
    session *s = p;
    if (!s)
        return;
    cf_kv_cache_free(&s->kv);
    free(s->cross);
    free(s->seq_cross);
    free(s->seqs);
    free(s->ids);
    cf_arena_free(&s->arena);
    free(s);
}

static cf_status session_open(const void *model, const cf_lm_limits *lim, void **out, cf_error *err)
{
    const cf_whisper *m = model;
    *out = NULL;
    if (lim->n_inputs <= 0 || lim->copies <= 0 || lim->max_len <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "whisper: empty generation request");
    if (lim->max_len > m->max_target)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "whisper: prompt + new tokens = %lld positions, but the decoder has only %lld "
                       "(max_target_positions); lower max_new_tokens", (long long)lim->max_len,
                       (long long)m->max_target);
    session *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    s->m = m;
    s->n_inputs = lim->n_inputs;
    s->copies = lim->copies;
    s->n_seqs = lim->n_inputs * lim->copies;
    s->max_len = lim->max_len;
    int64_t rows = s->n_seqs > s->n_inputs * lim->max_len ? s->n_seqs : s->n_inputs * lim->max_len;
    cf_status st = cf_kv_cache_init(&s->kv, m->dec_layers, s->n_seqs, lim->max_len, m->d, err);
    s->cross = malloc((size_t)s->n_inputs * cross_floats(m) * sizeof(float));
    s->seq_cross = calloc((size_t)s->n_seqs, sizeof *s->seq_cross);
    s->seqs = malloc((size_t)rows * sizeof *s->seqs);
    s->ids = malloc((size_t)rows * sizeof *s->ids);
    if (st == CF_OK && (!s->cross || !s->seq_cross || !s->seqs || !s->ids))
        st = cf_fail(err, CF_ERR_NOMEM, "whisper: out of memory for %lld sequences", (long long)s->n_seqs);
    if (st == CF_OK)
        st = cf_arena_init(&s->arena, max_size(encoder_bytes(m) + floats_bytes(m->enc_len * m->d),
                                               decoder_bytes(m, rows)), err);
    if (st != CF_OK) {
        session_close(s);
        return st;
    }
    *out = s;
    return CF_OK;
}

static cf_status check_start(const session *s, const cf_lm_inputs *in, cf_error *err)
{
    const cf_whisper *m = s->m;
    if (in->n_inputs != s->n_inputs || in->copies != s->copies)
        return cf_fail(err, CF_ERR_INTERNAL, "whisper: start with %lld x %lld sequences, session holds %lld x %lld",
                       (long long)in->n_inputs, (long long)in->copies, (long long)s->n_inputs, (long long)s->copies);
    if (!in->enc_features || in->enc_features_shape[0] != m->n_mels || in->enc_features_shape[1] != m->n_frames)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "whisper: the encoder takes log-mel features [%lld, %lld] (30 s windows); got [%lld, %lld]",
                       (long long)m->n_mels, (long long)m->n_frames, (long long)in->enc_features_shape[0],
                       (long long)in->enc_features_shape[1]);
    if (in->len <= 0 || in->len > s->max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "whisper: decoder prompt of %lld tokens (session allows 1..%lld)",
                       (long long)in->len, (long long)s->max_len);
    for (int64_t i = 0; in->mask && i < in->n_inputs * in->len; i++)
        if (!in->mask[i])
            return cf_fail(err, CF_ERR_UNSUPPORTED, "whisper: padded decoder prompts are not supported");
    return check_ids(m, in->ids, in->n_inputs * in->len, err);
}

static cf_status session_start(void *p, const cf_lm_inputs *in, float *logits, cf_error *err)
{
    session *s = p;
    const cf_whisper *m = s->m;
    CF_TRY(check_start(s, in, err));
    size_t per_input = (size_t)(m->n_mels * m->n_frames);
    cf_arena_reset(&s->arena);
    float *enc = cf_arena_floats(&s->arena, (size_t)(m->enc_len * m->d));
    for (int64_t i = 0; i < in->n_inputs; i++) {
        encode(m, in->enc_features + i * per_input, enc, &s->arena, NULL, NULL);
        project_cross(m, enc, s->cross + i * cross_floats(m));
    }
    cf_arena_reset(&s->arena);
    int64_t T = in->len;
    const float **blocks = s->seq_cross;
    for (int64_t i = 0; i < in->n_inputs; i++) {
        s->seqs[i] = i * s->copies; /* prefill the first copy of each input */
        blocks[i] = s->cross + i * cross_floats(m);
        memset(cf_kv_mask(&s->kv, s->seqs[i]), 0, (size_t)T * sizeof(float));
        *cf_kv_n_tokens(&s->kv, s->seqs[i]) = T;
    }
    s->kv.len = 0;
    dec_batch b = {.n_seqs = in->n_inputs, .T = T, .seqs = s->seqs, .ids = in->ids, .cross = blocks,
                   .kv = &s->kv, .logits = logits};
    decoder_forward(m, &b, &s->arena);
    s->kv.len = T;
    size_t V = (size_t)m->vocab;
    for (int64_t i = in->n_inputs - 1; i >= 0; i--) { /* spread input i to its copies, last input first */
        cf_kv_cache_replicate(&s->kv, i * s->copies, s->copies);
        for (int64_t c = s->copies - 1; c >= 0; c--)
            if (i * s->copies + c != i)
                memcpy(logits + (size_t)(i * s->copies + c) * V, logits + (size_t)i * V, V * sizeof(float));
    }
    for (int64_t q = 0; q < s->n_seqs; q++)
        s->seq_cross[q] = s->cross + (q / s->copies) * cross_floats(m);
    return CF_OK;
}

static cf_status session_step(void *p, const int64_t *tokens, const int32_t *src, float *logits, cf_error *err)
{
    session *s = p;
    if (s->kv.len >= s->kv.max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "whisper: the session's %lld positions are used up",
                       (long long)s->kv.max_len);
    CF_TRY(check_ids(s->m, tokens, s->n_seqs, err));
    for (int64_t i = 0; src && i < s->n_seqs; i++)
        if (src[i] < 0 || src[i] >= s->n_seqs || src[i] / s->copies != i / s->copies)
            return cf_fail(err, CF_ERR_INTERNAL, "whisper: beam source %d of sequence %lld is not a beam of its input",
                           (int)src[i], (long long)i);
    cf_kv_cache_reorder(&s->kv, src);
    for (int64_t i = 0; i < s->n_seqs; i++) {
        cf_kv_mask(&s->kv, i)[s->kv.len] = 0.0f;
        (*cf_kv_n_tokens(&s->kv, i))++;
        s->seqs[i] = i;
        s->ids[i] = tokens[i];
    }
    cf_arena_reset(&s->arena);
    dec_batch b = {.n_seqs = s->n_seqs, .T = 1, .seqs = s->seqs, .ids = s->ids, .cross = s->seq_cross,
                   .kv = &s->kv, .logits = logits};
    decoder_forward(s->m, &b, &s->arena);
    s->kv.len++;
    return CF_OK;
}

static const cf_lm_ops whisper_ops = {
    .name = "whisper",
    .open = session_open,
    .close = session_close,
    .start = session_start,
    .step = session_step,
};

cf_lm cf_whisper_as_lm(const cf_whisper *m)
{
    return (cf_lm){.ops = &whisper_ops, .model = m, .vocab_size = m->vocab, .max_positions = m->max_target,
                   .encoder_decoder = true};
}
