/* T5 (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
 * Transformer") and T5 v1.1 / Flan-T5: T5ForConditionalGeneration.
 *
 *   shared token embeddings, no position embeddings: a relative position bias (nn/relative_position.h)
 *   computed by the first layer of each stack and added in every layer's self-attention;
 *   pre-norm layers with T5LayerNorm (RMS, no mean, no bias); attention without 1/sqrt(d) scaling;
 *   feed-forward "relu" (wo(relu(wi x))) or gated ("gated-gelu": wo(gelu_new(wi_0 x) * wi_1 x));
 *   decoder: causal self-attention, cross-attention over the encoder output, final norm, then the
 *   lm_head: the shared embeddings with the decoder output scaled by d_model^-0.5 (tied) or a separate
 *   lm_head without the rescale (tie_word_embeddings false). Decoding starts from pad.
 *
 * An architecture of models/seq2seq.h: that layer encodes each input once, keeps its cross-attention
 * keys/values and drives the decoder against the self-attention KV cache. */
#include "models/seq2seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "kernels/kernels.h"
#include "nn/activation.h"
#include "nn/kv_cache.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/relative_position.h"
#include "nn/weights.h"

/* Multi-head attention without biases; q/k/v map d_model -> n_heads * d_kv, o maps back. */
typedef struct t5_attention {
    cf_linear q, k, v, o;
} t5_attention;

/* DenseReluDense / DenseGatedActDense: wo(act(wi x)) or wo(act(wi_0 x) * wi_1 x). */
typedef struct t5_ffn {
    cf_linear wi, wi_linear, wo; /* wi = wi_0 when gated; wi_linear = wi_1, gated only */
} t5_ffn;

typedef struct enc_layer {
    cf_norm attn_norm, ffn_norm;
    t5_attention attn;
    t5_ffn ffn;
} enc_layer;

typedef struct dec_layer {
    cf_norm self_norm, cross_norm, ffn_norm;
    t5_attention self_attn, cross_attn;
    t5_ffn ffn;
} dec_layer;

typedef struct t5 {
    int64_t d, d_kv, inner, d_ff, vocab;
    int n_heads, enc_layers, dec_layers;
    float eps;
    bool gated, tied;
    cf_activation act;
    cf_weight shared;           /* [vocab, d] token embeddings of both stacks */
    cf_linear lm_head;          /* "shared" itself when tied, else "lm_head" */
    float head_scale;           /* d^-0.5 when tied, else 1 */
    cf_relative_position enc_pos, dec_pos;
    enc_layer *enc;
    dec_layer *dec;
    cf_norm enc_norm, dec_norm;
    cf_safetensors *st;
} t5;

static void attention_free(t5_attention *a)
{
    cf_linear_free(&a->q);
    cf_linear_free(&a->k);
    cf_linear_free(&a->v);
    cf_linear_free(&a->o);
}

static void ffn_free(t5_ffn *f)
{
    cf_linear_free(&f->wi);
    cf_linear_free(&f->wi_linear);
    cf_linear_free(&f->wo);
}

static void t5_free(void *w)
{
    t5 *m = w;
    if (!m)
        return;
    for (int i = 0; m->enc && i < m->enc_layers; i++) {
        cf_norm_free(&m->enc[i].attn_norm);
        cf_norm_free(&m->enc[i].ffn_norm);
        attention_free(&m->enc[i].attn);
        ffn_free(&m->enc[i].ffn);
    }
    for (int i = 0; m->dec && i < m->dec_layers; i++) {
        dec_layer *l = &m->dec[i];
        cf_norm_free(&l->self_norm);
        cf_norm_free(&l->cross_norm);
        cf_norm_free(&l->ffn_norm);
        attention_free(&l->self_attn);
        attention_free(&l->cross_attn);
        ffn_free(&l->ffn);
    }
    free(m->enc);
    free(m->dec);
    cf_norm_free(&m->enc_norm);
    cf_norm_free(&m->dec_norm);
    cf_relative_position_free(&m->enc_pos);
    cf_relative_position_free(&m->dec_pos);
    cf_weight_free(&m->shared);
    cf_linear_free(&m->lm_head);
    cf_st_close(m->st);
    free(m);
}

/* ------------------------------------------------------------------ config ---- */

/* feed_forward_proj: "{ACT}" or "gated-{ACT}"; "gated-gelu" means gelu_new (T5 v1.1). */
static cf_status parse_feed_forward(t5 *m, const cf_config *c, cf_error *err)
{
    const char *proj = cf_config_str(c, "feed_forward_proj", "relu");
    const char *act = proj;
    m->gated = !strncmp(proj, "gated-", 6);
    if (m->gated)
        act = proj + 6;
    if (!strcmp(proj, "gated-gelu"))
        act = "gelu_new";
    if (strchr(act, '-') || cf_activation_parse(act, "feed_forward_proj", &m->act, err) != CF_OK)
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "%s: \"feed_forward_proj\" is \"%s\"; expected \"{ACT}\" or \"gated-{ACT}\" with ACT one of "
                       "gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish, tanh, linear",
                       c->path, proj);
    return CF_OK;
}

static cf_status read_config(t5 *m, const cf_config *c, cf_seq2seq *s2s, cf_error *err)
{
    int64_t v, buckets, distance;
    CF_TRY(cf_config_int_in(c, "d_model", 1, 1 << 16, &m->d, err));
    CF_TRY(cf_config_int_in(c, "d_kv", 1, 1 << 12, &m->d_kv, err));
    CF_TRY(cf_config_int_in(c, "d_ff", 1, 1 << 20, &m->d_ff, err));
    CF_TRY(cf_config_int_in(c, "vocab_size", 1, 1 << 24, &m->vocab, err));
    CF_TRY(cf_config_int_in(c, "num_heads", 1, 1024, &v, err));
    m->n_heads = (int)v;
    m->inner = m->d_kv * v;
    CF_TRY(cf_config_int_in(c, "num_layers", 1, 1000, &v, err));
    m->enc_layers = (int)v;
    CF_TRY(cf_config_int_in_or(c, "num_decoder_layers", v, 1, 1000, &v, err));
    m->dec_layers = (int)v;
    /* the encoder's buckets split in two directions, each half exact and half log-spaced */
    CF_TRY(cf_config_int_in_or(c, "relative_attention_num_buckets", 32, 4, 1 << 16, &buckets, err));
    CF_TRY(cf_config_int_in_or(c, "relative_attention_max_distance", 128, buckets / 2 + 1, 1 << 24, &distance, err));
    CF_TRY(cf_config_int_in_or(c, "pad_token_id", 0, 0, m->vocab - 1, &s2s->pad_id, err));
    CF_TRY(cf_config_int_in_or(c, "eos_token_id", 1, 0, m->vocab - 1, &s2s->eos_id, err));
    CF_TRY(cf_config_int_in_or(c, "decoder_start_token_id", s2s->pad_id, 0, m->vocab - 1, &s2s->decoder_start_id, err));
    double eps;
    CF_TRY(cf_config_float_checked(c, "layer_norm_epsilon", 1e-6, &eps, err));
    if (!(eps > 0 && eps < 1))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"layer_norm_epsilon\" is %g, expected a small positive number",
                       c->path, eps);
    m->eps = (float)eps;
    m->tied = cf_config_bool(c, "tie_word_embeddings", true);
    m->head_scale = m->tied ? 1.0f / sqrtf((float)m->d) : 1.0f;
    CF_TRY(parse_feed_forward(m, c, err));
    m->enc_pos.num_buckets = m->dec_pos.num_buckets = (int)buckets;
    m->enc_pos.max_distance = m->dec_pos.max_distance = (int)distance;
    return CF_OK;
}

/* ----------------------------------------------------------------- weights ---- */

static cf_status load_attention(const t5 *m, t5_attention *a, const char *prefix, cf_error *err)
{
    char name[256];
#define N(part) (snprintf(name, sizeof name, "%s.%s", prefix, part), name)
    CF_TRY(cf_linear_load(&a->q, m->st, N("q"), m->d, m->inner, false, err));
    CF_TRY(cf_linear_load(&a->k, m->st, N("k"), m->d, m->inner, false, err));
    CF_TRY(cf_linear_load(&a->v, m->st, N("v"), m->d, m->inner, false, err));
    CF_TRY(cf_linear_load(&a->o, m->st, N("o"), m->inner, m->d, false, err));
#undef N
    return CF_OK;
}

static cf_status load_ffn(const t5 *m, t5_ffn *f, const char *prefix, cf_error *err)
{
    char name[256];
#define N(part) (snprintf(name, sizeof name, "%s.%s", prefix, part), name)
    if (m->gated) {
        CF_TRY(cf_linear_load(&f->wi, m->st, N("wi_0"), m->d, m->d_ff, false, err));
        CF_TRY(cf_linear_load(&f->wi_linear, m->st, N("wi_1"), m->d, m->d_ff, false, err));
    } else {
        CF_TRY(cf_linear_load(&f->wi, m->st, N("wi"), m->d, m->d_ff, false, err));
    }
    CF_TRY(cf_linear_load(&f->wo, m->st, N("wo"), m->d_ff, m->d, false, err));
#undef N
    return CF_OK;
}

static cf_status load_norm(const t5 *m, cf_norm *n, const char *name, cf_error *err)
{
    return cf_norm_load_rms(n, m->st, name, m->d, m->eps, err);
}

static cf_status load_enc_layer(t5 *m, int i, cf_error *err)
{
    enc_layer *l = &m->enc[i];
    char p[256];
#define N(fmt) (snprintf(p, sizeof p, "encoder.block.%d." fmt, i), p)
    CF_TRY(load_norm(m, &l->attn_norm, N("layer.0.layer_norm"), err));
    CF_TRY(load_attention(m, &l->attn, N("layer.0.SelfAttention"), err));
    CF_TRY(load_norm(m, &l->ffn_norm, N("layer.1.layer_norm"), err));
    CF_TRY(load_ffn(m, &l->ffn, N("layer.1.DenseReluDense"), err));
#undef N
    return CF_OK;
}

static cf_status load_dec_layer(t5 *m, int i, cf_error *err)
{
    dec_layer *l = &m->dec[i];
    char p[256];
#define N(fmt) (snprintf(p, sizeof p, "decoder.block.%d." fmt, i), p)
    CF_TRY(load_norm(m, &l->self_norm, N("layer.0.layer_norm"), err));
    CF_TRY(load_attention(m, &l->self_attn, N("layer.0.SelfAttention"), err));
    CF_TRY(load_norm(m, &l->cross_norm, N("layer.1.layer_norm"), err));
    CF_TRY(load_attention(m, &l->cross_attn, N("layer.1.EncDecAttention"), err));
    CF_TRY(load_norm(m, &l->ffn_norm, N("layer.2.layer_norm"), err));
    CF_TRY(load_ffn(m, &l->ffn, N("layer.2.DenseReluDense"), err));
#undef N
    return CF_OK;
}

static cf_status load_weights(t5 *m, cf_error *err)
{
    CF_TRY(cf_weight_load(&m->shared, m->st, "shared.weight", 2, (int64_t[]){m->vocab, m->d}, err));
    CF_TRY(cf_linear_load(&m->lm_head, m->st, m->tied ? "shared" : "lm_head", m->d, m->vocab, false, err));
    static const char enc_bias[] = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    static const char dec_bias[] = "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
    CF_TRY(cf_relative_position_load(&m->enc_pos, m->st, enc_bias, m->n_heads, m->enc_pos.num_buckets,
                                     m->enc_pos.max_distance, true, err));
    CF_TRY(cf_relative_position_load(&m->dec_pos, m->st, dec_bias, m->n_heads, m->dec_pos.num_buckets,
                                     m->dec_pos.max_distance, false, err));
    m->enc = calloc((size_t)m->enc_layers, sizeof *m->enc);
    m->dec = calloc((size_t)m->dec_layers, sizeof *m->dec);
    if (!m->enc || !m->dec)
        return cf_fail(err, CF_ERR_NOMEM, "t5: out of memory for %d + %d layers", m->enc_layers, m->dec_layers);
    for (int i = 0; i < m->enc_layers; i++)
        CF_TRY(load_enc_layer(m, i, err));
    for (int i = 0; i < m->dec_layers; i++)
        CF_TRY(load_dec_layer(m, i, err));
    CF_TRY(load_norm(m, &m->enc_norm, "encoder.final_layer_norm", err));
    return load_norm(m, &m->dec_norm, "decoder.final_layer_norm", err);
}

/* ----------------------------------------------------------------- blocks ---- */

static size_t floats_bytes(int64_t n)
{
    return ((size_t)n * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
}

static cf_attn_args attn_args(const t5 *m, const float *q, int64_t n_q, const float *k, const float *v,
                              int64_t n_kv, float *out)
{
    int64_t s = m->inner;
    return (cf_attn_args){.n_q = n_q, .n_kv = n_kv, .n_heads = m->n_heads, .n_kv_heads = m->n_heads,
                          .head_dim = (int)m->d_kv, .q = q, .q_stride = s, .k = k, .k_stride = s, .v = v,
                          .v_stride = s, .out = out, .out_stride = s, .scale = 1.0f}; /* T5: no 1/sqrt(d) */
}

/* Arena bytes of one attention or feed-forward block over `rows` rows. */
static size_t block_bytes(const t5 *m, int64_t rows)
{
    size_t attn = 4 * floats_bytes(rows * m->inner), ffn = 2 * floats_bytes(rows * m->d_ff);
    return attn > ffn ? attn : ffn;
}

static void ffn_forward(const t5 *m, const t5_ffn *f, const float *x, int64_t rows, float *y, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    float *inner = cf_arena_floats(a, (size_t)(rows * m->d_ff));
    cf_linear_forward_act(&f->wi, x, rows, inner, m->act);
    if (m->gated) {
        float *lin = cf_arena_floats(a, (size_t)(rows * m->d_ff));
        cf_linear_forward(&f->wi_linear, x, rows, lin);
        cf_mul(inner, lin, rows * m->d_ff);
    }
    cf_linear_forward(&f->wo, inner, rows, y);
    cf_arena_rewind(a, mark);
}

/* --------------------------------------------------------------- encoder ---- */

/* Arena bytes of encode() over n tokens (its output excluded). */
static size_t encoder_bytes(const void *w, int64_t n)
{
    const t5 *m = w;
    return 3 * floats_bytes(n * m->d) + floats_bytes((int64_t)m->n_heads * n * n) + block_bytes(m, n) +
           8 * CF_ARENA_ALIGN;
}

static void encoder_self_attention(const t5 *m, const t5_attention *at, const float *h, int64_t n,
                                   const float *bias, float *y, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    size_t rows = (size_t)(n * m->inner);
    float *q = cf_arena_floats(a, rows), *k = cf_arena_floats(a, rows);
    float *v = cf_arena_floats(a, rows), *ctx = cf_arena_floats(a, rows);
    cf_linear_forward(&at->q, h, n, q);
    cf_linear_forward(&at->k, h, n, k);
    cf_linear_forward(&at->v, h, n, v);
    cf_attn_args args = attn_args(m, q, n, k, v, n, ctx);
    args.bias = bias;
    cf_attention_f32(&args);
    cf_linear_forward(&at->o, ctx, n, y);
    cf_arena_rewind(a, mark);
}

/* ids [n] (no padding: the seq2seq layer strips it) -> out [n, d]. */
static void encode(const void *w, const int64_t *ids, int64_t n, float *out, cf_arena *a, cf_seq2seq_tensor_fn fn,
                   void *ctx)
{
    const t5 *m = w;
    size_t mark = cf_arena_mark(a);
    int64_t d = m->d;
    float *x = cf_arena_floats(a, (size_t)(n * d)), *h = cf_arena_floats(a, (size_t)(n * d));
    float *sub = cf_arena_floats(a, (size_t)(n * d));
    float *bias = cf_arena_floats(a, (size_t)((int64_t)m->n_heads * n * n));
    cf_embedding_gather(m->shared.data, d, ids, n, x);
    cf_relative_position_bias(&m->enc_pos, 0, n, n, bias);
    for (int i = 0; i < m->enc_layers; i++) {
        const enc_layer *l = &m->enc[i];
        cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", i, x, n, d);
        cf_norm_forward(&l->attn_norm, x, h, n);
        encoder_self_attention(m, &l->attn, h, n, bias, sub, a);
        cf_add(x, sub, n * d);
        cf_norm_forward(&l->ffn_norm, x, h, n);
        ffn_forward(m, &l->ffn, h, n, sub, a);
        cf_add(x, sub, n * d);
    }
    cf_norm_forward(&m->enc_norm, x, out, n);
    cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", m->enc_layers, out, n, d);
    cf_arena_rewind(a, mark);
}

/* --------------------------------------------------------------- decoder ---- */

/* Cross-attention keys and values of one input: per layer K then V, each [enc_len, inner]. */
static size_t cross_floats(const void *w, int64_t enc_len)
{
    const t5 *m = w;
    return (size_t)m->dec_layers * 2 * (size_t)(enc_len * m->inner);
}

static void project_cross(const void *w, const float *enc, int64_t enc_len, float *cross)
{
    const t5 *m = w;
    size_t per = (size_t)(enc_len * m->inner);
    for (int l = 0; l < m->dec_layers; l++) {
        cf_linear_forward(&m->dec[l].cross_attn.k, enc, enc_len, cross + 2 * l * per);
        cf_linear_forward(&m->dec[l].cross_attn.v, enc, enc_len, cross + (2 * l + 1) * per);
    }
}

/* Arena bytes of decode() over `rows` rows of T new tokens each attending n_kv cached positions. */
static size_t decoder_bytes(const t5 *m, int64_t rows, int64_t T, int64_t n_kv)
{
    return 3 * floats_bytes(rows * m->d) + floats_bytes((int64_t)m->n_heads * T * n_kv) + block_bytes(m, rows) +
           8 * CF_ARENA_ALIGN;
}

/* A forward never has more new tokens per sequence, nor attends more positions, than max_len. */
static size_t decode_bytes_len(const void *w, int64_t rows, int64_t max_len)
{
    return decoder_bytes(w, rows, max_len, max_len);
}

/* Without the history length: rows bounds both (the seq2seq layer sizes prefill rows >= max_len). */
static size_t decode_bytes(const void *w, int64_t rows) { return decoder_bytes(w, rows, rows, rows); }

static void self_attend(const t5 *m, int l, const cf_seq2seq_batch *b, const float *h, const float *bias, float *y,
                        cf_arena *a)
{
    const t5_attention *at = &m->dec[l].self_attn;
    size_t mark = cf_arena_mark(a);
    int64_t R = b->n_seqs * b->T;
    size_t rows = (size_t)(R * m->inner);
    float *q = cf_arena_floats(a, rows), *k = cf_arena_floats(a, rows);
    float *v = cf_arena_floats(a, rows), *ctx = cf_arena_floats(a, rows);
    cf_linear_forward(&at->q, h, R, q);
    cf_linear_forward(&at->k, h, R, k);
    cf_linear_forward(&at->v, h, R, v);
    cf_kv_attend_args args = {.layer = l, .n_seqs = b->n_seqs, .T = b->T, .seqs = b->seqs, .q = q, .k = k, .v = v,
                              .q_stride = m->inner, .kv_stride = m->inner, .n_heads = m->n_heads,
                              .n_kv_heads = m->n_heads, .head_dim = (int)m->d_kv, .scale = 1.0f, .out = ctx,
                              .out_stride = m->inner, .bias = bias};
    cf_kv_attend(b->kv, &args);
    cf_linear_forward(&at->o, ctx, R, y);
    cf_arena_rewind(a, mark);
}

/* Cross-attention has no position bias. */
static void cross_attend(const t5 *m, int l, const cf_seq2seq_batch *b, const float *h, float *y, cf_arena *a)
{
    const t5_attention *at = &m->dec[l].cross_attn;
    size_t mark = cf_arena_mark(a);
    int64_t R = b->n_seqs * b->T;
    float *q = cf_arena_floats(a, (size_t)(R * m->inner)), *ctx = cf_arena_floats(a, (size_t)(R * m->inner));
    cf_linear_forward(&at->q, h, R, q);
    for (int64_t s = 0; s < b->n_seqs; s++) {
        int64_t n = b->enc_lens[s], per = n * m->inner, r0 = s * b->T * m->inner;
        const float *k = b->cross[s] + 2 * l * per, *v = k + per;
        cf_attn_args args = attn_args(m, q + r0, b->T, k, v, n, ctx + r0);
        cf_attention_f32(&args);
    }
    cf_linear_forward(&at->o, ctx, R, y);
    cf_arena_rewind(a, mark);
}

static void decoder_layer(const t5 *m, int l, const cf_seq2seq_batch *b, const float *bias, float *x, float *h,
                          float *sub, cf_arena *a)
{
    const dec_layer *L = &m->dec[l];
    int64_t R = b->n_seqs * b->T, d = m->d;
    cf_norm_forward(&L->self_norm, x, h, R);
    self_attend(m, l, b, h, bias, sub, a);
    cf_add(x, sub, R * d);
    cf_norm_forward(&L->cross_norm, x, h, R);
    cross_attend(m, l, b, h, sub, a);
    cf_add(x, sub, R * d);
    cf_norm_forward(&L->ffn_norm, x, h, R);
    ffn_forward(m, &L->ffn, h, R, sub, a);
    cf_add(x, sub, R * d);
}

/* Final norm (of every row, or of each sequence's last row only), the tied rescale, lm_head. */
static void decoder_head(const t5 *m, const cf_seq2seq_batch *b, const float *x, float *h)
{
    int64_t R = b->n_seqs * b->T, d = m->d, rows = R;
    if (b->all_positions || b->last_hidden) {
        cf_norm_forward(&m->dec_norm, x, h, R);
        cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", m->dec_layers, h, R, d);
        if (b->last_hidden)
            memcpy(b->last_hidden, h, (size_t)(R * d) * sizeof(float));
        if (!b->all_positions)
            for (int64_t s = 0; s < b->n_seqs; s++)
                memmove(h + s * d, h + ((s + 1) * b->T - 1) * d, (size_t)d * sizeof(float));
    } else {
        for (int64_t s = 0; s < b->n_seqs; s++)
            cf_norm_forward(&m->dec_norm, x + ((s + 1) * b->T - 1) * d, h + s * d, 1);
    }
    if (!b->all_positions)
        rows = b->n_seqs;
    if (!b->logits)
        return;
    if (m->head_scale != 1.0f)
        cf_scale(h, m->head_scale, rows * d);
    cf_linear_forward(&m->lm_head, h, rows, b->logits);
}

static void decode(const void *w, const cf_seq2seq_batch *b, cf_arena *a)
{
    const t5 *m = w;
    size_t mark = cf_arena_mark(a);
    int64_t R = b->n_seqs * b->T, d = m->d, n_kv = b->kv->len + b->T;
    float *x = cf_arena_floats(a, (size_t)(R * d)), *h = cf_arena_floats(a, (size_t)(R * d));
    float *sub = cf_arena_floats(a, (size_t)(R * d));
    float *bias = cf_arena_floats(a, (size_t)((int64_t)m->n_heads * b->T * n_kv));
    cf_embedding_gather(m->shared.data, d, b->ids, R, x);
    /* every sequence's new rows sit at the same positions: one bias for the batch */
    cf_relative_position_bias(&m->dec_pos, b->kv->len, b->T, n_kv, bias);
    for (int l = 0; l < m->dec_layers; l++) {
        cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", l, x, R, d);
        decoder_layer(m, l, b, bias, x, h, sub, a);
    }
    decoder_head(m, b, x, h);
    cf_arena_rewind(a, mark);
}

/* ------------------------------------------------------------------- load ---- */

cf_status cf_t5_load(const char *dir, const cf_config *config, cf_seq2seq *out, cf_error *err)
{
    t5 *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status s = read_config(m, config, out, err);
    if (s == CF_OK)
        s = cf_st_open_dir(dir, &m->st, err);
    if (s == CF_OK)
        s = load_weights(m, err);
    if (s != CF_OK) {
        t5_free(m);
        return s;
    }
    out->weights = m;
    out->free_weights = t5_free;
    out->arch = (cf_seq2seq_arch){
        .name = "t5", .dec_layers = m->dec_layers, .hidden = m->d, .enc_vocab = m->vocab, .dec_vocab = m->vocab,
        .max_source = 0, .max_target = 0, /* relative positions: no length limit */
        .cross_floats = cross_floats, .encode_bytes = encoder_bytes, .decode_bytes = decode_bytes,
        .encode = encode, .project_cross = project_cross, .decode = decode,
        .kv_dim = m->inner, .decode_bytes_len = decode_bytes_len,
    };
    return CF_OK;
}
