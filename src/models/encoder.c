#include "models/encoder_impl.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "kernels/kernels.h"

/* ------------------------------------------------------------------ loading ---- */

static const struct {
    const char *model_type;
    cf_status (*load)(cf_encoder *m, const cf_config *cfg, cf_error *err);
} k_families[] = {
    {"bert", cf_bert_load},
    {"distilbert", cf_distilbert_load},
    {"roberta", cf_roberta_load},
    {"bart", cf_bart_encoder_load},
};

bool cf_encoder_supports(const cf_config *config)
{
    const char *type = cf_config_str(config, "model_type", NULL);
    for (size_t i = 0; type && i < sizeof k_families / sizeof k_families[0]; i++)
        if (!strcmp(type, k_families[i].model_type))
            return true;
    return false;
}

const char *cf_encoder_base_prefix(const cf_safetensors *st, const char *family_prefix, const char *probe)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", family_prefix, probe);
    return cf_st_find(st, name) ? family_prefix : "";
}

cf_status cf_encoder_load_word_tables(cf_encoder *m, const char *prefix, bool with_types, int64_t n_positions,
                                      int64_t n_types, float eps, cf_error *err)
{
    cf_text_embeddings *e = &m->emb;
    e->vocab = m->vocab;
    e->dim = m->hidden;
    e->n_positions = n_positions;
    e->n_types = with_types ? n_types : 0;
    char name[256];
    int64_t shape[2] = {m->vocab, m->hidden};
    snprintf(name, sizeof name, "%sembeddings.word_embeddings.weight", prefix);
    CF_TRY(cf_weight_load(&e->word, m->st, name, 2, shape, err));
    shape[0] = n_positions;
    snprintf(name, sizeof name, "%sembeddings.position_embeddings.weight", prefix);
    CF_TRY(cf_weight_load(&e->position, m->st, name, 2, shape, err));
    if (with_types) {
        shape[0] = n_types;
        snprintf(name, sizeof name, "%sembeddings.token_type_embeddings.weight", prefix);
        CF_TRY(cf_weight_load(&e->token_type, m->st, name, 2, shape, err));
    }
    snprintf(name, sizeof name, "%sembeddings.LayerNorm", prefix);
    CF_TRY(cf_norm_load_layer(&e->norm, m->st, name, m->hidden, eps, err));
    e->has_norm = true;
    return CF_OK;
}

cf_status cf_encoder_load_layers(cf_encoder *m, const char *prefix, const cf_encoder_layer_names *names,
                                 cf_activation act, float eps, cf_error *err)
{
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate %d encoder layers", m->n_layers);
    for (int i = 0; i < m->n_layers; i++) {
        cf_encoder_layer *l = &m->layers[i];
        char base[256], q[256], k[256], v[256], o[256], an[256], up[256], down[256], fn[256];
        snprintf(base, sizeof base, names->layer, prefix, i);
#define PART(buf, suffix) snprintf(buf, sizeof buf, "%s%s", base, names->suffix)
        PART(q, q);
        PART(k, k);
        PART(v, v);
        PART(o, o);
        PART(an, attn_norm);
        PART(up, up);
        PART(down, down);
        PART(fn, ffn_norm);
#undef PART
        CF_TRY(cf_self_attention_load(&l->attn, m->st, q, k, v, o, m->hidden, m->n_heads, err));
        CF_TRY(cf_norm_load_layer(&l->attn_norm, m->st, an, m->hidden, eps, err));
        CF_TRY(cf_ffn_load(&l->ffn, m->st, up, down, m->hidden, m->inner, act, err));
        CF_TRY(cf_norm_load_layer(&l->ffn_norm, m->st, fn, m->hidden, eps, err));
    }
    return CF_OK;
}

cf_status cf_encoder_read_sizes(cf_encoder *m, const cf_config *cfg, const cf_encoder_size_keys *keys, cf_error *err)
{
    int64_t layers, heads;
    CF_TRY(cf_config_int_in(cfg, keys->hidden, 1, CF_ENCODER_MAX_WIDTH, &m->hidden, err));
    CF_TRY(cf_config_int_in(cfg, keys->layers, 1, CF_ENCODER_MAX_LAYERS, &layers, err));
    CF_TRY(cf_config_int_in(cfg, keys->heads, 1, m->hidden, &heads, err));
    CF_TRY(cf_config_int_in(cfg, keys->inner, 1, CF_ENCODER_MAX_WIDTH * 16, &m->inner, err));
    CF_TRY(cf_config_int_in(cfg, "vocab_size", 1, CF_ENCODER_MAX_VOCAB, &m->vocab, err));
    m->n_layers = (int)layers;
    m->n_heads = (int)heads;
    if (m->hidden % heads != 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: %s %lld is not a multiple of %s %lld", cfg->path, keys->hidden,
                       (long long)m->hidden, keys->heads, (long long)heads);
    return CF_OK;
}

cf_status cf_encoder_load_token_head(cf_encoder *m, const cf_config *cfg, cf_error *err)
{
    if (m->head == CF_HEAD_QUESTION_ANSWERING) {
        m->n_labels = 2;
        return cf_encoder_load_classifier(m, "qa_outputs", 2, err);
    }
    m->n_labels = cf_config_num_labels(cfg);
    return cf_encoder_load_classifier(m, "classifier", m->n_labels, err);
}

cf_status cf_encoder_load_pooler(cf_encoder *m, const char *name, cf_activation act, bool required, cf_error *err)
{
    char w[256];
    snprintf(w, sizeof w, "%s.weight", name);
    if (!required && !cf_st_find(m->st, w))
        return CF_OK;
    CF_TRY(cf_linear_load(&m->pooler.dense, m->st, name, m->hidden, m->hidden, true, err));
    m->pooler.present = true;
    m->pooler.act = act;
    return CF_OK;
}

cf_status cf_encoder_load_classifier(cf_encoder *m, const char *name, int64_t n_out, cf_error *err)
{
    return cf_linear_load(&m->classifier, m->st, name, m->hidden, n_out, true, err);
}

cf_status cf_encoder_load_mlm(cf_encoder *m, const char *dense, const char *norm, float eps, cf_activation act,
                              const char *decoder_weight, const char *const *bias_names, cf_error *err)
{
    cf_mlm_head *h = &m->mlm;
    h->act = act;
    CF_TRY(cf_linear_load(&h->transform, m->st, dense, m->hidden, m->hidden, true, err));
    CF_TRY(cf_norm_load_layer(&h->norm, m->st, norm, m->hidden, eps, err));
    int64_t shape[2] = {m->vocab, m->hidden};
    if (cf_st_find(m->st, decoder_weight))
        CF_TRY(cf_weight_load(&h->decoder, m->st, decoder_weight, 2, shape, err));
    else /* tied to the word embeddings (tie_word_embeddings) */
        h->decoder.data = m->emb.word.data;
    return cf_weight_load_any(&h->bias, m->st, bias_names, 1, &m->vocab, err);
}

cf_status cf_encoder_load(const char *dir, const cf_config *config, cf_encoder_head head, cf_encoder **out,
                          cf_error *err)
{
    *out = NULL;
    const char *type = cf_config_str(config, "model_type", NULL);
    cf_status (*load)(cf_encoder *, const cf_config *, cf_error *) = NULL;
    for (size_t i = 0; type && i < sizeof k_families / sizeof k_families[0]; i++)
        if (!strcmp(type, k_families[i].model_type))
            load = k_families[i].load;
    if (!load)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: model_type '%s' is not an encoder cformer runs (bert, distilbert, roberta)",
                       config->path, type ? type : "(missing)");
    cf_encoder *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate the model");
    snprintf(m->family, sizeof m->family, "%s", type);
    m->head = head;
    cf_status s = cf_st_open_dir(dir, &m->st, err);
    if (s == CF_OK)
        s = load(m, config, err);
    if (s == CF_OK && !m->delegate.forward) /* size the arena for one sequence of the longest length the positions allow */
        s = cf_encoder_reserve(m, 1, cf_encoder_max_tokens(m) < 512 ? cf_encoder_max_tokens(m) : 512, 1, err);
    if (s != CF_OK) {
        cf_encoder_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

void cf_encoder_free(cf_encoder *m)
{
    if (!m)
        return;
    if (m->delegate.free)
        m->delegate.free(m->delegate.model);
    cf_text_embeddings_free(&m->emb);
    for (int i = 0; m->layers && i < m->n_layers; i++)
        cf_encoder_layer_free(&m->layers[i]);
    free(m->layers);
    if (m->pooler.present)
        cf_linear_free(&m->pooler.dense);
    cf_linear_free(&m->classifier);
    cf_linear_free(&m->mlm.transform);
    cf_norm_free(&m->mlm.norm);
    if (m->mlm.decoder.data != m->emb.word.data)
        cf_weight_free(&m->mlm.decoder);
    cf_weight_free(&m->mlm.bias);
    cf_arena_free(&m->arena);
    cf_st_close(m->st);
    free(m);
}

const char *cf_encoder_family(const cf_encoder *m) { return m->family; }
cf_encoder_head cf_encoder_head_kind(const cf_encoder *m) { return m->head; }
int64_t cf_encoder_hidden_size(const cf_encoder *m) { return m->hidden; }
int64_t cf_encoder_num_layers(const cf_encoder *m) { return m->n_layers; }
int64_t cf_encoder_vocab_size(const cf_encoder *m) { return m->vocab; }
int64_t cf_encoder_num_labels(const cf_encoder *m) { return m->n_labels; }
int64_t cf_encoder_max_tokens(const cf_encoder *m)
{
    return m->delegate.forward ? m->delegate.max_tokens : cf_text_embeddings_max_len(&m->emb);
}
bool cf_encoder_uses_token_types(const cf_encoder *m) { return m->emb.n_types > 0; }

/* ------------------------------------------------------------ activations ---- */

/* Every buffer one forward takes, in the order it takes them. */
typedef struct encoder_buffers {
    float *key_mask, *embed_sum, *x;
    float *first, *pooled;        /* [batch, hidden] */
    float *lm_in, *lm_mid, *lm_n; /* [rows, hidden] */
    float *logits;
    int64_t logits_rows, logits_cols;
} encoder_buffers;

static int64_t lm_rows(const cf_encoder_input *in) { return in->lm_rows ? in->n_lm_rows : in->batch * in->seq; }

static void take_buffers(const cf_encoder *m, cf_arena *a, int64_t batch, int64_t seq, int64_t rows,
                         encoder_buffers *b)
{
    int64_t t = batch * seq, h = m->hidden;
    *b = (encoder_buffers){0};
    b->key_mask = cf_arena_floats(a, (size_t)t);
    b->embed_sum = cf_arena_floats(a, (size_t)(t * h));
    b->x = cf_arena_floats(a, (size_t)(t * h));
    if (m->pooler.present) {
        b->first = cf_arena_floats(a, (size_t)(batch * h));
        b->pooled = cf_arena_floats(a, (size_t)(batch * h));
    }
    switch (m->head) {
    case CF_HEAD_BASE: return;
    case CF_HEAD_SEQUENCE_CLASSIFICATION: b->logits_rows = batch; b->logits_cols = m->n_labels; break;
    case CF_HEAD_TOKEN_CLASSIFICATION: b->logits_rows = t; b->logits_cols = m->n_labels; break;
    case CF_HEAD_QUESTION_ANSWERING: b->logits_rows = t; b->logits_cols = 2; break;
    case CF_HEAD_MASKED_LM:
        b->lm_in = cf_arena_floats(a, (size_t)(rows * h));
        b->lm_mid = cf_arena_floats(a, (size_t)(rows * h));
        b->lm_n = cf_arena_floats(a, (size_t)(rows * h));
        b->logits_rows = rows;
        b->logits_cols = m->vocab;
        break;
    }
    b->logits = cf_arena_floats(a, (size_t)(b->logits_rows * b->logits_cols));
}

static size_t bytes_needed(const cf_encoder *m, int64_t batch, int64_t seq, int64_t rows)
{
    cf_arena measure;
    cf_arena_init_measuring(&measure);
    encoder_buffers b;
    take_buffers(m, &measure, batch, seq, rows, &b);
    size_t layer = 0;
    for (int i = 0; i < m->n_layers; i++) {
        size_t s = cf_encoder_layer_scratch_bytes(&m->layers[i], batch * seq);
        layer = s > layer ? s : layer;
    }
    return measure.high_water + layer + CF_ARENA_ALIGN;
}

cf_status cf_encoder_reserve(cf_encoder *m, int64_t batch, int64_t seq, int64_t n_lm_rows, cf_error *err)
{
    if (batch <= 0 || seq <= 0 || n_lm_rows < 0 || batch > (1 << 20) || seq > (1 << 20))
        return cf_fail(err, CF_ERR_INVALID_ARG, "encoder: bad batch shape %lld x %lld", (long long)batch,
                       (long long)seq);
    if (m->delegate.forward) /* runs its own memory */
        return CF_OK;
    size_t need = bytes_needed(m, batch, seq, n_lm_rows);
    if (m->arena.base && need <= m->arena.size)
        return CF_OK;
    cf_arena_free(&m->arena);
    return cf_arena_init(&m->arena, need, err);
}

/* ---------------------------------------------------------------- forward ---- */

static cf_status check_input(const cf_encoder *m, const cf_encoder_input *in, cf_error *err)
{
    if (!in->input_ids || in->batch <= 0 || in->seq <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "encoder: empty batch (%lld x %lld)", (long long)in->batch,
                       (long long)in->seq);
    if (m->head == CF_HEAD_MASKED_LM && in->lm_rows)
        for (int64_t i = 0; i < in->n_lm_rows; i++)
            if (in->lm_rows[i] < 0 || in->lm_rows[i] >= in->batch * in->seq)
                return cf_fail(err, CF_ERR_INVALID_ARG, "encoder: masked-LM row %lld outside the batch",
                               (long long)in->lm_rows[i]);
    size_t need = bytes_needed(m, in->batch, in->seq, lm_rows(in));
    if (need > m->arena.size)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "encoder: a %lld x %lld batch needs %zu arena bytes, %zu reserved (call cf_encoder_reserve)",
                       (long long)in->batch, (long long)in->seq, need, m->arena.size);
    return CF_OK;
}

/* HF's extended attention mask: 0 where attended, the most negative float where padded. */
static const float *key_mask(const cf_encoder_input *in, float *buf)
{
    if (!in->attention_mask)
        return NULL;
    for (int64_t i = 0; i < in->batch * in->seq; i++)
        buf[i] = in->attention_mask[i] ? 0.0f : -FLT_MAX;
    return buf;
}

static void gather_rows(const float *x, int64_t dim, const int64_t *rows, int64_t n, int64_t stride_rows,
                        float *out)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t r = rows ? rows[i] : i * stride_rows;
        memcpy(out + i * dim, x + r * dim, (size_t)dim * sizeof(float));
    }
}

static void run_pooler(const cf_encoder *m, const cf_encoder_input *in, encoder_buffers *b)
{
    gather_rows(b->x, m->hidden, NULL, in->batch, in->seq, b->first);
    cf_linear_forward(&m->pooler.dense, b->first, in->batch, b->pooled);
    cf_activation_apply(m->pooler.act, b->pooled, in->batch * m->hidden);
}

static void run_mlm(const cf_encoder *m, const cf_encoder_input *in, encoder_buffers *b)
{
    int64_t rows = lm_rows(in), h = m->hidden;
    gather_rows(b->x, h, in->lm_rows, rows, 1, b->lm_in);
    cf_linear_forward(&m->mlm.transform, b->lm_in, rows, b->lm_mid);
    cf_activation_apply(m->mlm.act, b->lm_mid, rows * h);
    cf_norm_forward(&m->mlm.norm, b->lm_mid, b->lm_n, rows);
    cf_gemm_f32(false, true, rows, m->vocab, h, 1.0f, b->lm_n, h, m->mlm.decoder.data, h, 0.0f, b->logits,
                m->vocab);
    cf_add_row_bias(b->logits, m->mlm.bias.data, rows, m->vocab);
}

cf_status cf_encoder_forward(cf_encoder *m, const cf_encoder_input *in, cf_encoder_output *out, cf_error *err)
{
    *out = (cf_encoder_output){0};
    if (m->delegate.forward) {
        if (!in->input_ids || in->batch <= 0 || in->seq <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "encoder: empty batch (%lld x %lld)", (long long)in->batch,
                           (long long)in->seq);
        return m->delegate.forward(m->delegate.model, in, out, err);
    }
    CF_TRY(check_input(m, in, err));
    cf_arena_reset(&m->arena);
    encoder_buffers b;
    take_buffers(m, &m->arena, in->batch, in->seq, lm_rows(in), &b);
    int64_t t = in->batch * in->seq;
    const int64_t *types = m->emb.n_types > 0 ? in->token_type_ids : NULL;
    CF_TRY(cf_text_embeddings_forward(&m->emb, in->input_ids, types, in->batch, in->seq, b.embed_sum, b.x, err));
    if (in->on_hidden)
        in->on_hidden(in->on_hidden_ctx, 0, b.x, t, m->hidden);
    const float *mask = key_mask(in, b.key_mask);
    for (int i = 0; i < m->n_layers; i++) {
        cf_encoder_layer_forward(&m->layers[i], b.x, in->batch, in->seq, mask, &m->arena);
        if (in->on_hidden)
            in->on_hidden(in->on_hidden_ctx, i + 1, b.x, t, m->hidden);
    }
    out->last_hidden_state = b.x;
    if (m->pooler.present) {
        run_pooler(m, in, &b);
        out->pooler_output = b.pooled;
    }
    switch (m->head) {
    case CF_HEAD_BASE: break;
    case CF_HEAD_SEQUENCE_CLASSIFICATION: cf_linear_forward(&m->classifier, b.pooled, in->batch, b.logits); break;
    case CF_HEAD_TOKEN_CLASSIFICATION:
    case CF_HEAD_QUESTION_ANSWERING: cf_linear_forward(&m->classifier, b.x, t, b.logits); break;
    case CF_HEAD_MASKED_LM: run_mlm(m, in, &b); break;
    }
    out->logits = b.logits;
    out->logits_rows = b.logits_rows;
    out->logits_cols = b.logits_cols;
    return CF_OK;
}
