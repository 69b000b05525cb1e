/* BART (Lewis et al. 2019) and the encoder-decoder layout it shares with Marian; see bart.h. */
#include "models/bart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/encoder_impl.h"
#include "nn/decoder_layer.h"
#include "nn/encoder_layer.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/positional.h"
#include "nn/weights.h"

static const float k_eps = 1e-5f; /* nn.LayerNorm's default, used throughout modeling_bart */
enum { LEARNED_OFFSET = 2 };      /* BartLearnedPositionalEmbedding: position p reads row p + 2 */

typedef struct bart {
    cf_bart_spec spec;
    cf_safetensors *st;
    bool owns_st;
    char prefix[8];                  /* "model." or "" */
    cf_weight enc_tokens, dec_tokens; /* dec_tokens only when not shared */
    const float *enc_tok, *dec_tok;
    cf_weight enc_pos_w, dec_pos_w;  /* learned positions */
    float *sinusoids;                /* computed positions */
    const float *enc_pos, *dec_pos;  /* row p = position p */
    bool has_ln_emb;
    cf_norm enc_ln_emb, dec_ln_emb;
    cf_encoder_layer *enc;
    cf_decoder_layer *dec;
    cf_weight out_w, logits_bias;
    cf_linear head; /* a view: output table + final_logits_bias */
} bart;

static void bart_free(void *p)
{
    bart *w = p;
    if (!w)
        return;
    for (int i = 0; w->enc && i < w->spec.stacks.enc_layers; i++)
        cf_encoder_layer_free(&w->enc[i]);
    for (int i = 0; w->dec && i < w->spec.stacks.dec_layers; i++)
        cf_decoder_layer_free(&w->dec[i]);
    free(w->enc);
    free(w->dec);
    cf_weight_free(&w->enc_tokens);
    cf_weight_free(&w->dec_tokens);
    cf_weight_free(&w->enc_pos_w);
    cf_weight_free(&w->dec_pos_w);
    free(w->sinusoids);
    cf_norm_free(&w->enc_ln_emb);
    cf_norm_free(&w->dec_ln_emb);
    cf_linear_free(&w->head); /* the pack; the table is a view */
    cf_weight_free(&w->out_w);
    cf_weight_free(&w->logits_bias);
    if (w->owns_st)
        cf_st_close(w->st);
    free(w);
}

/* ------------------------------------------------------------------ config ---- */

static cf_status optional_id(const cf_config *c, const char *key, int64_t vocab, int64_t *out, cf_error *err)
{
    *out = -1;
    if (!cf_config_has(c, key))
        return CF_OK;
    return cf_config_int_in(c, key, 0, vocab - 1, out, err);
}

static cf_status heads_divide(const cf_config *c, const char *key, int64_t d, int heads, cf_error *err)
{
    if (d % heads)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" = %d does not divide d_model = %lld", c->path, key, heads,
                       (long long)d);
    return CF_OK;
}

cf_status cf_bart_read_config(const cf_config *c, cf_bart_spec *spec, cf_seq2seq *m, cf_error *err)
{
    CF_TRY(cf_config_int_in(c, "d_model", 1, 1 << 16, &spec->d, err));
    CF_TRY(cf_config_int_in(c, "vocab_size", 1, 1 << 24, &spec->enc_vocab, err));
    spec->dec_vocab = spec->enc_vocab;
    CF_TRY(cf_config_int_in(c, "max_position_embeddings", 1, 1 << 20, &spec->max_positions, err));
    CF_TRY(cf_seq2seq_read_stacks(c, spec->d, &spec->stacks, err));
    CF_TRY(heads_divide(c, "encoder_attention_heads", spec->d, spec->stacks.enc_heads, err));
    CF_TRY(heads_divide(c, "decoder_attention_heads", spec->d, spec->stacks.dec_heads, err));
    if (cf_config_has(c, "is_encoder_decoder") && !cf_config_bool(c, "is_encoder_decoder", true))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"is_encoder_decoder\": false is not supported", c->path);
    spec->embed_scale = cf_config_bool(c, "scale_embedding", false) ? sqrtf((float)spec->d) : 1.0f;
    spec->tied_output = cf_config_bool(c, "tie_word_embeddings", true);
    CF_TRY(cf_activation_parse(cf_config_str(c, "activation_function", "gelu"), "activation_function", &spec->act,
                               err));
    CF_TRY(optional_id(c, "pad_token_id", spec->enc_vocab, &m->pad_id, err));
    CF_TRY(optional_id(c, "eos_token_id", spec->enc_vocab, &m->eos_id, err));
    return optional_id(c, "decoder_start_token_id", spec->enc_vocab, &m->decoder_start_id, err);
}

/* ----------------------------------------------------------------- weights ---- */

static const char *name_of(const bart *w, char *buf, size_t size, const char *fmt, int i)
{
    char part[256];
    snprintf(part, sizeof part, fmt, i);
    snprintf(buf, size, "%s%s", w->prefix, part);
    return buf;
}

static cf_status load_tables(bart *w, cf_error *err)
{
    const cf_bart_spec *s = &w->spec;
    char a[300], b[300];
    if (s->shared_embeddings) { /* model.shared; some checkpoints keep only the encoder's copy */
        const char *names[] = {name_of(w, a, sizeof a, "shared.weight", 0),
                               name_of(w, b, sizeof b, "encoder.embed_tokens.weight", 0), NULL};
        CF_TRY(cf_weight_load_any(&w->enc_tokens, w->st, names, 2, (int64_t[]){s->enc_vocab, s->d}, err));
        w->enc_tok = w->dec_tok = w->enc_tokens.data;
    } else {
        CF_TRY(cf_weight_load(&w->enc_tokens, w->st, name_of(w, a, sizeof a, "encoder.embed_tokens.weight", 0), 2,
                              (int64_t[]){s->enc_vocab, s->d}, err));
        CF_TRY(cf_weight_load(&w->dec_tokens, w->st, name_of(w, a, sizeof a, "decoder.embed_tokens.weight", 0), 2,
                              (int64_t[]){s->dec_vocab, s->d}, err));
        w->enc_tok = w->enc_tokens.data;
        w->dec_tok = w->dec_tokens.data;
    }
    const float *out = w->dec_tok;
    if (!s->tied_output) {
        CF_TRY(cf_weight_load(&w->out_w, w->st, "lm_head.weight", 2, (int64_t[]){s->dec_vocab, s->d}, err));
        out = w->out_w.data;
    }
    if (cf_weight_exists(w->st, "final_logits_bias")) /* a zero buffer when the checkpoint lacks it */
        CF_TRY(cf_weight_load(&w->logits_bias, w->st, "final_logits_bias", 2, (int64_t[]){1, s->dec_vocab}, err));
    w->head = (cf_linear){.n_in = s->d, .n_out = s->dec_vocab, .w = (float *)out, .bias = (float *)w->logits_bias.data};
    /* packed once (a copy of the table): beams then share one read of it per step */
    return cf_gemm_pack_b(&w->head.packed, true, s->d, s->dec_vocab, out, s->d, err);
}

static cf_status load_positions(bart *w, cf_error *err)
{
    const cf_bart_spec *s = &w->spec;
    if (s->positions == CF_BART_POS_SINUSOIDAL) {
        CF_TRY(cf_marian_sinusoids(s->max_positions, s->d, &w->sinusoids, err));
        w->enc_pos = w->dec_pos = w->sinusoids;
        return CF_OK;
    }
    char a[300];
    int64_t shape[2] = {s->max_positions + LEARNED_OFFSET, s->d};
    CF_TRY(cf_weight_load(&w->enc_pos_w, w->st, name_of(w, a, sizeof a, "encoder.embed_positions.weight", 0), 2,
                          shape, err));
    CF_TRY(cf_weight_load(&w->dec_pos_w, w->st, name_of(w, a, sizeof a, "decoder.embed_positions.weight", 0), 2,
                          shape, err));
    w->enc_pos = w->enc_pos_w.data + LEARNED_OFFSET * s->d;
    w->dec_pos = w->dec_pos_w.data + LEARNED_OFFSET * s->d;
    return CF_OK;
}

static cf_status load_encoder_layer(bart *w, int i, cf_error *err)
{
    const cf_bart_spec *s = &w->spec;
    cf_encoder_layer *l = &w->enc[i];
    char q[300], k[300], v[300], o[300], up[300], down[300];
    CF_TRY(cf_self_attention_load(&l->attn, w->st, name_of(w, q, sizeof q, "encoder.layers.%d.self_attn.q_proj", i),
                                  name_of(w, k, sizeof k, "encoder.layers.%d.self_attn.k_proj", i),
                                  name_of(w, v, sizeof v, "encoder.layers.%d.self_attn.v_proj", i),
                                  name_of(w, o, sizeof o, "encoder.layers.%d.self_attn.out_proj", i), s->d,
                                  s->stacks.enc_heads, err));
    CF_TRY(cf_norm_load_layer(&l->attn_norm, w->st, name_of(w, q, sizeof q, "encoder.layers.%d.self_attn_layer_norm", i),
                              s->d, k_eps, err));
    CF_TRY(cf_ffn_load(&l->ffn, w->st, name_of(w, up, sizeof up, "encoder.layers.%d.fc1", i),
                       name_of(w, down, sizeof down, "encoder.layers.%d.fc2", i), s->d, s->stacks.enc_ffn, s->act,
                       err));
    return cf_norm_load_layer(&l->ffn_norm, w->st, name_of(w, q, sizeof q, "encoder.layers.%d.final_layer_norm", i),
                              s->d, k_eps, err);
}

static cf_status load_layers(bart *w, cf_error *err)
{
    const cf_bart_spec *s = &w->spec;
    w->enc = calloc((size_t)s->stacks.enc_layers, sizeof *w->enc);
    w->dec = calloc((size_t)s->stacks.dec_layers, sizeof *w->dec);
    if (!w->enc || !w->dec)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for the layers", s->name);
    for (int i = 0; i < s->stacks.enc_layers; i++)
        CF_TRY(load_encoder_layer(w, i, err));
    cf_decoder_layer_spec ds = {.hidden = s->d, .ffn_dim = s->stacks.dec_ffn, .n_heads = s->stacks.dec_heads,
                                .act = s->act, .eps = k_eps, .k_bias = true};
    for (int i = 0; i < s->stacks.dec_layers; i++) {
        char p[300];
        CF_TRY(cf_decoder_layer_load(&w->dec[i], w->st, name_of(w, p, sizeof p, "decoder.layers.%d", i), &ds, err));
    }
    return CF_OK;
}

static cf_status load_weights(bart *w, cf_error *err)
{
    bool prefixed = cf_st_find(w->st, "model.encoder.layers.0.fc1.weight") != NULL;
    snprintf(w->prefix, sizeof w->prefix, "%s", prefixed ? "model." : "");
    CF_TRY(load_tables(w, err));
    CF_TRY(load_positions(w, err));
    if (w->spec.layernorm_embedding) {
        char a[300];
        w->has_ln_emb = true;
        CF_TRY(cf_norm_load_layer(&w->enc_ln_emb, w->st, name_of(w, a, sizeof a, "encoder.layernorm_embedding", 0),
                                  w->spec.d, k_eps, err));
        CF_TRY(cf_norm_load_layer(&w->dec_ln_emb, w->st, name_of(w, a, sizeof a, "decoder.layernorm_embedding", 0),
                                  w->spec.d, k_eps, err));
    }
    return load_layers(w, err);
}

/* --------------------------------------------------------------- the arch ---- */

static size_t floats_bytes(int64_t n)
{
    return ((size_t)n * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
}

static size_t cross_floats(const void *p, int64_t len)
{
    const bart *w = p;
    return (size_t)w->spec.stacks.dec_layers * 2 * (size_t)(len * w->spec.d);
}

static size_t encode_bytes(const void *p, int64_t len)
{
    const bart *w = p;
    size_t layer = 0;
    for (int i = 0; i < w->spec.stacks.enc_layers; i++) {
        size_t s = cf_encoder_layer_scratch_bytes(&w->enc[i], len);
        layer = s > layer ? s : layer;
    }
    return floats_bytes(len * w->spec.d) + layer + 2 * CF_ARENA_ALIGN;
}

static size_t decode_bytes(const void *p, int64_t rows)
{
    const bart *w = p;
    size_t layer = 0;
    for (int i = 0; i < w->spec.stacks.dec_layers; i++) {
        size_t s = cf_decoder_layer_scratch_bytes(&w->dec[i], rows);
        layer = s > layer ? s : layer;
    }
    size_t memory = ((size_t)rows * sizeof(cf_cross_memory) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1);
    return 2 * floats_bytes(rows * w->spec.d) + memory + layer + 4 * CF_ARENA_ALIGN;
}

/* x = [layernorm_embedding](tokens[ids] * embed_scale + positions); tmp is scratch of the same size. */
static void embed(const bart *w, const float *table, const float *pos, const int64_t *ids, int64_t n_seqs,
                  int64_t T, int64_t first_pos, const cf_norm *ln, float *tmp, float *x)
{
    int64_t d = w->spec.d, rows = n_seqs * T;
    float *e = w->has_ln_emb ? tmp : x;
    cf_embedding_gather(table, d, ids, rows, e);
    if (w->spec.embed_scale != 1.0f)
        cf_scale(e, w->spec.embed_scale, rows * d);
    for (int64_t s = 0; s < n_seqs; s++)
        for (int64_t t = 0; t < T; t++)
            cf_add(e + (s * T + t) * d, pos + (first_pos + t) * d, d);
    if (w->has_ln_emb)
        cf_norm_forward(ln, tmp, x, rows);
}

static void encode(const void *p, const int64_t *ids, int64_t len, float *out, cf_arena *a, cf_seq2seq_tensor_fn fn,
                   void *ctx)
{
    const bart *w = p;
    size_t mark = cf_arena_mark(a);
    float *tmp = cf_arena_floats(a, (size_t)(len * w->spec.d));
    embed(w, w->enc_tok, w->enc_pos, ids, 1, len, 0, &w->enc_ln_emb, tmp, out);
    cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", 0, out, len, w->spec.d);
    for (int i = 0; i < w->spec.stacks.enc_layers; i++) {
        cf_encoder_layer_forward(&w->enc[i], out, 1, len, NULL, a);
        cf_seq2seq_emit(fn, ctx, "encoder_hidden_states", i + 1, out, len, w->spec.d);
    }
    cf_arena_rewind(a, mark);
}

static void project_cross(const void *p, const float *enc, int64_t len, float *cross)
{
    const bart *w = p;
    size_t per = (size_t)(len * w->spec.d);
    for (int l = 0; l < w->spec.stacks.dec_layers; l++)
        cf_decoder_layer_project_memory(&w->dec[l], enc, len, cross + 2 * l * per, cross + (2 * l + 1) * per);
}

static void decode(const void *p, const cf_seq2seq_batch *b, cf_arena *a)
{
    const bart *w = p;
    size_t mark = cf_arena_mark(a);
    int64_t d = w->spec.d, R = b->n_seqs * b->T;
    float *x = cf_arena_floats(a, (size_t)(R * d)), *tmp = cf_arena_floats(a, (size_t)(R * d));
    cf_cross_memory *memory = cf_arena_alloc(a, (size_t)b->n_seqs * sizeof *memory);
    embed(w, w->dec_tok, w->dec_pos, b->ids, b->n_seqs, b->T, b->kv->len, &w->dec_ln_emb, tmp, x);
    cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", 0, x, R, d);
    for (int l = 0; l < w->spec.stacks.dec_layers; l++) {
        for (int64_t s = 0; s < b->n_seqs; s++) {
            size_t per = (size_t)(b->enc_lens[s] * d);
            memory[s] = (cf_cross_memory){.k = b->cross[s] + 2 * l * per, .v = b->cross[s] + (2 * l + 1) * per,
                                          .n = b->enc_lens[s]};
        }
        cf_decoder_layer_forward(&w->dec[l], l, b->kv, b->seqs, b->n_seqs, b->T, memory, x, a);
        cf_seq2seq_emit(b->fn, b->ctx, "decoder_hidden_states", l + 1, x, R, d);
    }
    if (b->last_hidden)
        memcpy(b->last_hidden, x, (size_t)(R * d) * sizeof(float));
    if (b->logits && b->all_positions) {
        cf_linear_forward(&w->head, x, R, b->logits);
    } else if (b->logits) { /* only each sequence's last position is scored */
        for (int64_t s = 0; s < b->n_seqs; s++)
            memcpy(tmp + s * d, x + ((s + 1) * b->T - 1) * d, (size_t)d * sizeof(float));
        cf_linear_forward(&w->head, tmp, b->n_seqs, b->logits);
    }
    cf_arena_rewind(a, mark);
}

cf_status cf_bart_layout_load(cf_safetensors *st, bool owns_st, const cf_bart_spec *spec, cf_seq2seq *m,
                              cf_error *err)
{
    bart *w = calloc(1, sizeof *w);
    if (!w) {
        if (owns_st)
            cf_st_close(st);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    w->spec = *spec;
    w->st = st;
    w->owns_st = owns_st;
    cf_status s = load_weights(w, err);
    if (s == CF_OK && m->pad_id >= spec->dec_vocab)
        s = cf_fail(err, CF_ERR_FORMAT, "%s: pad_token_id %lld is outside the decoder vocabulary of %lld", spec->name,
                    (long long)m->pad_id, (long long)spec->dec_vocab);
    if (s != CF_OK) {
        bart_free(w);
        return s;
    }
    m->weights = w;
    m->free_weights = bart_free;
    m->arch = (cf_seq2seq_arch){.name = spec->name, .dec_layers = spec->stacks.dec_layers, .hidden = spec->d,
                                .enc_vocab = spec->enc_vocab, .dec_vocab = spec->dec_vocab,
                                .max_source = spec->max_positions, .max_target = spec->max_positions,
                                .cross_floats = cross_floats, .encode_bytes = encode_bytes,
                                .decode_bytes = decode_bytes, .encode = encode, .project_cross = project_cross,
                                .decode = decode};
    return CF_OK;
}

/* ------------------------------------------------------------------- BART ---- */

static cf_status bart_spec(const cf_config *config, cf_bart_spec *spec, cf_seq2seq *m, cf_error *err)
{
    *spec = (cf_bart_spec){.name = "bart", .positions = CF_BART_POS_LEARNED, .layernorm_embedding = true,
                           .shared_embeddings = true};
    return cf_bart_read_config(config, spec, m, err);
}

cf_status cf_bart_load(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err)
{
    cf_bart_spec spec;
    CF_TRY(bart_spec(config, &spec, m, err));
    cf_safetensors *st;
    CF_TRY(cf_st_open_dir(dir, &st, err));
    return cf_bart_layout_load(st, true, &spec, m, err);
}

/* -------------------------------------------------- sequence classification ---- */

struct cf_bart_classifier {
    cf_seq2seq model;
    cf_linear dense, out_proj;
    int64_t n_labels;
};

void cf_bart_classifier_free(cf_bart_classifier *c)
{
    if (!c)
        return;
    if (c->model.free_weights)
        c->model.free_weights(c->model.weights);
    cf_linear_free(&c->dense);
    cf_linear_free(&c->out_proj);
    free(c);
}

int64_t cf_bart_classifier_num_labels(const cf_bart_classifier *c) { return c->n_labels; }
const cf_seq2seq *cf_bart_classifier_model(const cf_bart_classifier *c) { return &c->model; }

static cf_status classifier_load(cf_safetensors *st, bool owns_st, const cf_config *config, cf_bart_classifier **out,
                                 cf_error *err)
{
    *out = NULL;
    cf_bart_classifier *c = calloc(1, sizeof *c);
    if (!c) {
        if (owns_st)
            cf_st_close(st);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    c->model.pad_id = c->model.eos_id = c->model.decoder_start_id = -1;
    cf_bart_spec spec;
    cf_status s = bart_spec(config, &spec, &c->model, err);
    if (s == CF_OK) {
        s = cf_bart_layout_load(st, owns_st, &spec, &c->model, err);
    } else if (owns_st) {
        cf_st_close(st);
    }
    c->n_labels = cf_config_num_labels(config);
    if (s == CF_OK && (c->model.eos_id < 0 || c->model.decoder_start_id < 0))
        s = cf_fail(err, CF_ERR_FORMAT, "%s: sequence classification needs \"eos_token_id\" and "
                    "\"decoder_start_token_id\"", config->path);
    if (s == CF_OK && c->n_labels <= 0)
        s = cf_fail(err, CF_ERR_FORMAT, "%s: no labels (id2label / num_labels)", config->path);
    if (s == CF_OK)
        s = cf_linear_load(&c->dense, st, "classification_head.dense", spec.d, spec.d, true, err);
    if (s == CF_OK)
        s = cf_linear_load(&c->out_proj, st, "classification_head.out_proj", spec.d, c->n_labels, true, err);
    if (s != CF_OK) {
        cf_bart_classifier_free(c);
        return s;
    }
    *out = c;
    return CF_OK;
}

cf_status cf_bart_classifier_load(const char *dir, const cf_config *config, cf_bart_classifier **out, cf_error *err)
{
    cf_safetensors *st;
    CF_TRY(cf_st_open_dir(dir, &st, err));
    return classifier_load(st, true, config, out, err);
}

cf_status cf_bart_classifier_load_st(cf_safetensors *st, const cf_config *config, cf_bart_classifier **out,
                                     cf_error *err)
{
    return classifier_load(st, false, config, out, err);
}

static int64_t last_eos(const cf_bart_classifier *c, const int64_t *ids, int64_t n, int64_t *count)
{
    int64_t at = -1;
    *count = 0;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] == c->model.eos_id) {
            at = i;
            (*count)++;
        }
    return at;
}

cf_status cf_bart_classify(const cf_bart_classifier *c, const int64_t *ids, int64_t n, float *logits,
                           float *last_hidden, cf_seq2seq_tensor_fn fn, void *ctx, cf_error *err)
{
    int64_t d = c->model.arch.hidden, count;
    int64_t eos = n > 0 ? last_eos(c, ids, n, &count) : -1;
    if (eos < 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "bart: sequence classification reads the hidden state at the last "
                       "</s> (eos_token_id %lld), and the input has none", (long long)c->model.eos_id);
    int64_t *dec = malloc((size_t)n * sizeof *dec); /* shift_tokens_right */
    float *hidden = last_hidden ? last_hidden : malloc((size_t)(n * d) * sizeof *hidden);
    float *pooled = malloc((size_t)d * sizeof *pooled);
    cf_status s = dec && hidden && pooled ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    if (s == CF_OK) {
        dec[0] = c->model.decoder_start_id;
        memcpy(dec + 1, ids, (size_t)(n - 1) * sizeof *dec);
        s = cf_seq2seq_forward(&c->model, ids, n, dec, n, NULL, hidden, fn, ctx, err);
    }
    if (s == CF_OK) {
        cf_linear_forward(&c->dense, hidden + eos * d, 1, pooled);
        cf_tanh_inplace(pooled, d);
        cf_linear_forward(&c->out_proj, pooled, 1, logits);
    }
    free(dec);
    if (hidden != last_hidden)
        free(hidden);
    free(pooled);
    return s;
}

/* ------------------------------------------ as a cf_encoder (text pipelines) ---- */

typedef struct bart_encoder {
    cf_bart_classifier *c;
    float *logits, *hidden;
    size_t logits_cap, hidden_cap;
} bart_encoder;

static void bart_encoder_free(void *p)
{
    bart_encoder *e = p;
    if (!e)
        return;
    cf_bart_classifier_free(e->c);
    free(e->logits);
    free(e->hidden);
    free(e);
}

static cf_status grow(float **buf, size_t *cap, size_t n, cf_error *err)
{
    if (n <= *cap)
        return CF_OK;
    float *p = realloc(*buf, n * sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "bart: out of memory for %zu outputs", n);
    *buf = p;
    *cap = n;
    return CF_OK;
}

/* Tokens of a right-padded row. */
static cf_status row_length(const cf_encoder_input *in, int64_t b, int64_t *n, cf_error *err)
{
    const int64_t *mask = in->attention_mask ? in->attention_mask + b * in->seq : NULL;
    *n = in->seq;
    if (!mask)
        return CF_OK;
    for (*n = 0; *n < in->seq && mask[*n];)
        (*n)++;
    for (int64_t t = *n; t < in->seq; t++)
        if (mask[t])
            return cf_fail(err, CF_ERR_UNSUPPORTED, "bart: only right-padded batches are supported");
    return CF_OK;
}

/* BartForSequenceClassification over each row (padding after a row's tokens changes nothing
 * before them: the decoder is causal and padded keys are masked). */
static cf_status bart_encoder_forward(void *p, const cf_encoder_input *in, cf_encoder_output *out, cf_error *err)
{
    bart_encoder *e = p;
    int64_t L = e->c->n_labels, d = e->c->model.arch.hidden, first_count = -1;
    CF_TRY(grow(&e->logits, &e->logits_cap, (size_t)(in->batch * L), err));
    CF_TRY(grow(&e->hidden, &e->hidden_cap, (size_t)(in->batch * in->seq * d), err));
    memset(e->hidden, 0, (size_t)(in->batch * in->seq * d) * sizeof(float));
    for (int64_t b = 0; b < in->batch; b++) {
        int64_t n, count;
        CF_TRY(row_length(in, b, &n, err));
        const int64_t *ids = in->input_ids + b * in->seq;
        last_eos(e->c, ids, n, &count);
        if (first_count >= 0 && count != first_count)
            return cf_fail(err, CF_ERR_INVALID_ARG, "bart: all examples must have the same number of <eos> tokens");
        first_count = count;
        CF_TRY(cf_bart_classify(e->c, ids, n, e->logits + b * L, e->hidden + b * in->seq * d, NULL, NULL, err));
    }
    *out = (cf_encoder_output){.last_hidden_state = e->hidden, .logits = e->logits, .logits_rows = in->batch,
                               .logits_cols = L};
    return CF_OK;
}

cf_status cf_bart_encoder_load(cf_encoder *m, const cf_config *cfg, cf_error *err)
{
    if (m->head != CF_HEAD_SEQUENCE_CLASSIFICATION)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: BART runs text-classification and zero-shot-classification "
                       "(BartForSequenceClassification); this task needs another head", cfg->path);
    bart_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status s = cf_bart_classifier_load_st(m->st, cfg, &e->c, err);
    if (s != CF_OK) {
        bart_encoder_free(e);
        return s;
    }
    m->hidden = e->c->model.arch.hidden;
    m->n_labels = e->c->n_labels;
    m->vocab = e->c->model.arch.enc_vocab;
    m->n_layers = ((const bart *)e->c->model.weights)->spec.stacks.enc_layers;
    m->delegate = (cf_encoder_delegate){.model = e, .forward = bart_encoder_forward, .free = bart_encoder_free,
                                        .max_tokens = e->c->model.arch.max_source};
    return CF_OK;
}
