/* Whisper encoder-decoder; see whisper.h. */
#include "models/whisper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "kernels/kernels.h"
#include "models/seq2seq.h"
#include "nn/activation.h"
#include "nn/conv1d.h"
#include "nn/decoder_layer.h"
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

struct cf_whisper {
    int64_t d, vocab, n_mels, n_frames, enc_len, max_target;
    cf_seq2seq_stacks stacks;
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
    cf_decoder_layer *dec; /* pre-LN; its forward is decoder_layer() below */
    cf_norm dec_norm;
    cf_safetensors *st;
    cf_arena arena;  /* for cf_whisper_encode */
    cf_seq2seq s2s;  /* this model as an architecture of models/seq2seq.h, for decoding */
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
    for (int i = 0; m->enc && i < m->stacks.enc_layers; i++) {
        cf_norm_free(&m->enc[i].attn_norm);
        cf_norm_free(&m->enc[i].ffn_norm);
        cf_mha_free(&m->enc[i].attn);
        cf_ffn_free(&m->enc[i].ffn);
    }
    for (int i = 0; m->dec && i < m->stacks.dec_layers; i++)
        cf_decoder_layer_free(&m->dec[i]);
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

static cf_status read_config(cf_whisper *m, const cf_config *c, cf_error *err)
{
    CF_TRY(cf_config_int_in(c, "d_model", 1, 1 << 16, &m->d, err));
    CF_TRY(cf_config_int_in(c, "vocab_size", 1, 1 << 24, &m->vocab, err));
    CF_TRY(cf_config_int_in(c, "num_mel_bins", 1, 1024, &m->n_mels, err));
    CF_TRY(cf_config_int_in(c, "max_source_positions", 1, 1 << 20, &m->enc_len, err));
    CF_TRY(cf_config_int_in(c, "max_target_positions", 1, 1 << 20, &m->max_target, err));
    CF_TRY(cf_seq2seq_read_stacks(c, m->d, &m->stacks, err));
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
    CF_TRY(cf_mha_load(&l->attn, m->st, N("self_attn"), m->d, m->stacks.enc_heads, false, err));
    snprintf(q, sizeof q, "model.encoder.layers.%d.fc2", i);
    CF_TRY(cf_ffn_load(&l->ffn, m->st, N("fc1"), q, m->d, m->stacks.enc_ffn, m->act, err));
#undef N
    return CF_OK;
}

static cf_status load_dec_layer(cf_whisper *m, int i, cf_error *err)
{
    cf_decoder_layer_spec spec = {.hidden = m->d, .ffn_dim = m->stacks.dec_ffn, .n_heads = m->stacks.dec_heads,
                                  .act = m->act, .eps = 1e-5f, .pre_norm = true, .k_bias = false};
    char p[256];
    snprintf(p, sizeof p, "model.decoder.layers.%d", i);
    return cf_decoder_layer_load(&m->dec[i], m->st, p, &spec, err);
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
    m->enc = calloc((size_t)m->stacks.enc_layers, sizeof *m->enc);
    if (!m->enc)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->stacks.enc_layers; i++)
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
    m->dec = calloc((size_t)m->stacks.dec_layers, sizeof *m->dec);
    if (!m->dec)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->stacks.dec_layers; i++)
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

/* ----------------------------------------------------------------- encoder ---- */

static size_t floats_bytes(int64_t n) { return ((size_t)n * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1); }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Arena bytes of encode() over the enc_len rows of one window (its output excluded). */
static size_t encoder_bytes(const void *w, int64_t enc_len)
{
    const cf_whisper *m = w;
    int64_t F = m->n_frames, L = enc_len, d = m->d;
    size_t conv = floats_bytes(F * m->n_mels) + floats_bytes(F * d) +
                  max_size(cf_conv1d_scratch_bytes(&m->conv1, F), cf_conv1d_scratch_bytes(&m->conv2, F));
    size_t layer = 2 * floats_bytes(L * d) +
                   max_size(cf_mha_scratch_bytes(&m->enc[0].attn, L), cf_ffn_scratch_bytes(&m->enc[0].ffn, L));
    return floats_bytes(L * d) + max_size(conv, layer) + 8 * CF_ARENA_ALIGN;
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

/* features [n_mels, n_frames] -> out [enc_len, d]; the encode_features of the architecture. */
static void encode(const void *w, const float *features, float *out, cf_arena *a, cf_seq2seq_tensor_fn fn, void *ctx)
{
    const cf_whisper *m = w;
    size_t mark = cf_arena_mark(a);
    int64_t L = m->enc_len, d = m->d;
    float *x = cf_arena_floats(a, (size_t)(L * d));
    encoder_front(m, features, x, a);
    float *h = cf_arena_floats(a, (size_t)(L * d)), *sub = cf_arena_floats(a, (size_t)(L * d));
    for (int i = 0; i < m->stacks.enc_layers; i++) {
        cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", i, x, L, d);
        encoder_layer(&m->enc[i], x, L, h, sub, a);
    }
    cf_norm_forward(&m->enc_norm, x, out, L);
    cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", m->stacks.enc_layers, out, L, d);
    cf_arena_rewind(a, mark);
}

cf_status cf_whisper_encode(cf_whisper *m, const float *features, float *out, cf_whisper_tensor_fn fn, void *ctx,
                            cf_error *err)
{
    CF_TRY(reserve(&m->arena, encoder_bytes(m, m->enc_len), err));
    cf_arena_reset(&m->arena);
    encode(m, features, out, &m->arena, fn, ctx);
    return CF_OK;
}

/* ----------------------------------------------------------------- decoder ---- */

/* Cross-attention keys and values of one input: per layer K then V, each [enc_len, d]. */
static size_t cross_floats(const void *w, int64_t enc_len)
{
    const cf_whisper *m = w;
    return (size_t)m->stacks.dec_layers * 2 * (size_t)(enc_len * m->d);
}

static void project_cross(const void *w, const float *enc, int64_t enc_len, float *cross)
{
    const cf_whisper *m = w;
    size_t per = (size_t)(enc_len * m->d);
    for (int l = 0; l < m->stacks.dec_layers; l++)
        cf_decoder_layer_project_memory(&m->dec[l], enc, enc_len, cross + 2 * l * per, cross + (2 * l + 1) * per);
}

static size_t decoder_bytes(const void *w, int64_t rows)
{
    const cf_whisper *m = w;
    size_t sub = max_size(cf_mha_scratch_bytes(&m->dec[0].self_attn, rows), cf_ffn_scratch_bytes(&m->dec[0].ffn, rows));
    return 3 * floats_bytes(rows * m->d) + sub + 8 * CF_ARENA_ALIGN;
}

static void embed(const cf_whisper *m, const cf_seq2seq_batch *b, float *x)
{
    int64_t d = m->d;
    cf_embedding_gather(m->embed_tokens.data, d, b->ids, b->n_seqs * b->T, x);
    if (m->embed_scale != 1.0f)
        cf_scale(x, m->embed_scale, b->n_seqs * b->T * d);
    for (int64_t s = 0; s < b->n_seqs; s++)
        for (int64_t t = 0; t < b->T; t++)
            cf_add(x + (s * b->T + t) * d, m->dec_pos.data + (b->kv->len + t) * d, d);
}

/* Each row block against its own input's keys/values, projections per block. */
static void cross_attend(const cf_whisper *m, int l, const cf_seq2seq_batch *b, const float *h, float *sub,
                         cf_arena *a)
{
    for (int64_t s = 0; s < b->n_seqs; s++) {
        size_t per = (size_t)(b->enc_lens[s] * m->d);
        const float *k = b->cross[s] + 2 * l * per, *v = k + per;
        cf_mha_cross_forward(&m->dec[l].cross_attn, h + s * b->T * m->d, b->T, k, v, b->enc_lens[s],
                             sub + s * b->T * m->d, a);
    }
}

static void decoder_layer(const cf_whisper *m, int l, const cf_seq2seq_batch *b, float *x, float *h, float *sub,
                          cf_arena *a)
{
    const cf_decoder_layer *L = &m->dec[l];
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

/* The decode of the architecture: final norm of every row (all_positions) or of each block's
 * last row, then logits = h W_out^T (one row per step: the packed matvec). */
static void decode(const void *w, const cf_seq2seq_batch *b, cf_arena *a)
{
    const cf_whisper *m = w;
    size_t mark = cf_arena_mark(a);
    int64_t R = b->n_seqs * b->T, d = m->d, rows = b->n_seqs;
    float *x = cf_arena_floats(a, (size_t)(R * d)), *h = cf_arena_floats(a, (size_t)(R * d));
    float *sub = cf_arena_floats(a, (size_t)(R * d));
    embed(m, b, x);
    for (int l = 0; l < m->stacks.dec_layers; l++) {
        cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", l, x, R, d);
        decoder_layer(m, l, b, x, h, sub, a);
    }
    if (b->all_positions || b->last_hidden) {
        cf_norm_forward(&m->dec_norm, x, h, R);
        cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", m->stacks.dec_layers, h, R, d);
        if (b->last_hidden)
            memcpy(b->last_hidden, h, (size_t)(R * d) * sizeof(float));
    }
    if (b->all_positions)
        rows = R;
    else /* only each sequence's last position is scored */
        for (int64_t s = 0; s < b->n_seqs; s++)
            cf_norm_forward(&m->dec_norm, x + ((s + 1) * b->T - 1) * d, h + s * d, 1);
    if (b->logits)
        cf_linear_forward(&m->lm_head, h, rows, b->logits);
    cf_arena_rewind(a, mark);
}

cf_status cf_whisper_decode_full(cf_whisper *m, const float *enc, const int64_t *ids, int64_t n, float *logits,
                                 cf_whisper_tensor_fn fn, void *ctx, cf_error *err)
{
    CF_TRY(cf_seq2seq_decode_full(&m->s2s, enc, m->enc_len, ids, n, logits, NULL, fn, ctx, err));
    if (fn)
        fn(ctx, "logits", logits, n, m->vocab);
    return CF_OK;
}

/* ------------------------------------------------------------------- load ---- */

/* Decoding runs through models/seq2seq.h: an encoder over one log-mel window per input. */
static void describe_arch(cf_whisper *m)
{
    m->s2s = (cf_seq2seq){.weights = m, .pad_id = -1, .eos_id = -1, .decoder_start_id = -1};
    m->s2s.arch = (cf_seq2seq_arch){
        .name = "whisper", .dec_layers = m->stacks.dec_layers, .hidden = m->d, .dec_vocab = m->vocab,
        .max_source = m->enc_len, .max_target = m->max_target, .max_target_key = "max_target_positions",
        .cross_floats = cross_floats, .encode_bytes = encoder_bytes, .decode_bytes = decoder_bytes,
        .project_cross = project_cross, .decode = decode,
        .features_shape = {m->n_mels, m->n_frames}, .encode_features = encode,
    };
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
    describe_arch(m);
    *out = m;
    return CF_OK;
}

cf_lm cf_whisper_as_lm(const cf_whisper *m) { return cf_seq2seq_as_lm(&m->s2s); }
