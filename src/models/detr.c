#include "models/detr.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/resnet.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/conv_maps.h"
#include "nn/ffn.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/weights.h"

#define DETR_LN_EPS 1e-5f
#define DETR_GN_EPS 1e-5f
#define DETR_MAX_BOX_LAYERS 8
#define DETR_MASK_LEVELS 5 /* lay1..lay5 */

/* Attention whose queries and keys get position embeddings added before projection. */
typedef struct detr_attn {
    int heads;
    cf_linear q, k, v, o;
} detr_attn;

typedef struct detr_layer {
    detr_attn self, cross; /* cross: decoder only */
    cf_norm self_norm, cross_norm, ffn_norm;
    cf_ffn ffn;
} detr_layer;

typedef struct detr_mask_head {
    cf_linear q_linear, k_linear; /* MHAttentionMap */
    cf_conv2d lay[DETR_MASK_LEVELS], out_lay, adapter[3];
    cf_weight gn_gamma[DETR_MASK_LEVELS], gn_beta[DETR_MASK_LEVELS];
    int gn_groups[DETR_MASK_LEVELS];
} detr_mask_head;

struct cf_detr {
    cf_safetensors *st;
    int64_t d, queries, n_logits, enc_layers, dec_layers;
    int enc_heads, dec_heads;
    cf_resnet *backbone;
    cf_conv2d input_proj;
    cf_weight query_pos; /* [queries, d] */
    detr_layer *enc, *dec;
    cf_norm dec_norm;
    cf_linear classifier;
    int n_box_layers;
    cf_linear box[DETR_MAX_BOX_LAYERS];
    bool has_masks;
    detr_mask_head mask;
    cf_arena arena;
};

bool cf_detr_supports(const cf_config *config) { return !strcmp(cf_config_str(config, "model_type", ""), "detr"); }

/* ------------------------------------------------------------------ loading ---- */

static cf_status load_attn(detr_attn *a, const cf_safetensors *st, const char *p, int64_t d, int heads, cf_error *err)
{
    char n[300];
    a->heads = heads;
    CF_TRY(cf_linear_load(&a->q, st, cf_vision_name(n, sizeof n, "%s.q_proj", p), d, d, true, err));
    CF_TRY(cf_linear_load(&a->k, st, cf_vision_name(n, sizeof n, "%s.k_proj", p), d, d, true, err));
    CF_TRY(cf_linear_load(&a->v, st, cf_vision_name(n, sizeof n, "%s.v_proj", p), d, d, true, err));
    return cf_linear_load(&a->o, st, cf_vision_name(n, sizeof n, "%s.out_proj", p), d, d, true, err);
}

static cf_status load_layer(detr_layer *l, const cf_safetensors *st, const char *p, int64_t d, int heads, int64_t ffn,
                            cf_activation act, bool decoder, cf_error *err)
{
    char n[300], m[300];
    CF_TRY(load_attn(&l->self, st, cf_vision_name(n, sizeof n, "%s.self_attn", p), d, heads, err));
    CF_TRY(cf_norm_load_layer(&l->self_norm, st, cf_vision_name(n, sizeof n, "%s.self_attn_layer_norm", p), d,
                              DETR_LN_EPS, err));
    if (decoder) {
        CF_TRY(load_attn(&l->cross, st, cf_vision_name(n, sizeof n, "%s.encoder_attn", p), d, heads, err));
        CF_TRY(cf_norm_load_layer(&l->cross_norm, st, cf_vision_name(n, sizeof n, "%s.encoder_attn_layer_norm", p), d,
                                  DETR_LN_EPS, err));
    }
    CF_TRY(cf_ffn_load(&l->ffn, st, cf_vision_name(n, sizeof n, "%s.fc1", p), cf_vision_name(m, sizeof m, "%s.fc2", p),
                       d, ffn, act, err));
    return cf_norm_load_layer(&l->ffn_norm, st, cf_vision_name(n, sizeof n, "%s.final_layer_norm", p), d, DETR_LN_EPS,
                              err);
}

static cf_status load_layers(detr_layer **out, int64_t count, const cf_safetensors *st, const char *fmt,
                             const char *base, int64_t d, int heads, int64_t ffn, cf_activation act, bool decoder,
                             cf_error *err)
{
    *out = calloc((size_t)count, sizeof **out);
    if (!*out)
        return cf_fail(err, CF_ERR_NOMEM, "detr: cannot allocate %lld layers", (long long)count);
    for (int64_t i = 0; i < count; i++) {
        char p[300];
        CF_TRY(load_layer(&(*out)[i], st, cf_vision_name(p, sizeof p, fmt, base, (long long)i), d, heads, ffn, act,
                          decoder, err));
    }
    return CF_OK;
}

static cf_status load_conv(cf_conv2d *c, const cf_safetensors *st, const char *name, int64_t in, int kernel,
                           cf_error *err)
{
    char w[300];
    const cf_tensor *t = cf_st_find(st, cf_vision_name(w, sizeof w, "%s.weight", name));
    if (!t || t->ndim != 4)
        return cf_fail(err, CF_ERR_NOT_FOUND, "detr: missing 4-d tensor '%s'", w);
    cf_conv2d_spec spec = {.in_ch = in, .out_ch = t->shape[0], .kernel = kernel, .stride = 1, .pad = kernel / 2,
                           .has_bias = true};
    return cf_conv2d_load(c, st, name, &spec, err);
}

static cf_status load_mask_head(cf_detr *m, cf_error *err)
{
    detr_mask_head *h = &m->mask;
    const cf_safetensors *st = m->st;
    CF_TRY(cf_linear_load(&h->q_linear, st, "bbox_attention.q_linear", m->d, m->d, true, err));
    CF_TRY(cf_linear_load(&h->k_linear, st, "bbox_attention.k_linear", m->d, m->d, true, err));
    if (cf_resnet_num_stages(m->backbone) < 4)
        return cf_fail(err, CF_ERR_FORMAT, "detr: the mask head needs a 4-stage backbone");
    int64_t ch = m->d + m->enc_heads;
    char n[64];
    for (int i = 0; i < DETR_MASK_LEVELS; i++) {
        CF_TRY(load_conv(&h->lay[i], st, cf_vision_name(n, sizeof n, "mask_head.lay%d", i + 1), ch, 3, err));
        ch = h->lay[i].out_ch;
        h->gn_groups[i] = i == 0 ? 8 : (ch < 8 ? (int)ch : 8);
        if (ch % h->gn_groups[i])
            return cf_fail(err, CF_ERR_FORMAT, "detr: mask_head.gn%d: %lld channels not divisible into %d groups",
                           i + 1, (long long)ch, h->gn_groups[i]);
        CF_TRY(cf_weight_load(&h->gn_gamma[i], st, cf_vision_name(n, sizeof n, "mask_head.gn%d.weight", i + 1), 1, &ch,
                              err));
        CF_TRY(cf_weight_load(&h->gn_beta[i], st, cf_vision_name(n, sizeof n, "mask_head.gn%d.bias", i + 1), 1, &ch,
                              err));
        if (i >= 1 && i <= 3) { /* adapter i feeds the input of lay(i+2) from backbone stage 4-i */
            int stage = 3 - i;
            CF_TRY(load_conv(&h->adapter[i - 1], st, cf_vision_name(n, sizeof n, "mask_head.adapter%d", i),
                             cf_resnet_stage_channels(m->backbone, stage), 1, err));
            if (h->adapter[i - 1].out_ch != ch)
                return cf_fail(err, CF_ERR_SHAPE, "detr: mask_head.adapter%d gives %lld channels, lay%d gives %lld", i,
                               (long long)h->adapter[i - 1].out_ch, i + 1, (long long)ch);
        }
    }
    return load_conv(&h->out_lay, st, "mask_head.out_lay", ch, 3, err);
}

static cf_status load_backbone(cf_detr *m, const cf_config *cfg, const char *base, cf_error *err)
{
    if (cf_config_bool(cfg, "dilation", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: dilated (DC5) backbones are not supported", cfg->path);
    const char *act = cf_config_str(cfg, "backbone_config.hidden_act", "relu");
    if (strcmp(act, "relu"))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: backbone_config.hidden_act '%s' (only relu)", cfg->path, act);
    char p[300];
    cf_vision_name(p, sizeof p, "%smodel.backbone.conv_encoder.model.", base);
    char probe[400];
    cf_resnet_options opt = {
        .timm_names = cf_st_find(m->st, cf_vision_name(probe, sizeof probe, "%sconv1.weight", p)) != NULL,
        .downsample_in_first_stage = cf_config_bool(cfg, "backbone_config.downsample_in_first_stage", false),
        .downsample_in_bottleneck = cf_config_bool(cfg, "backbone_config.downsample_in_bottleneck", false),
        .bn_eps = 1e-5f,
    };
    return cf_resnet_load(m->st, p, &opt, &m->backbone, err);
}

static cf_status load_detr(cf_detr *m, const char *dir, const cf_config *cfg, cf_error *err)
{
    int64_t enc_heads, dec_heads, enc_ffn, dec_ffn;
    CF_TRY(cf_config_int_in(cfg, "d_model", 2, 1 << 14, &m->d, err));
    CF_TRY(cf_config_int_in(cfg, "encoder_layers", 0, 256, &m->enc_layers, err));
    CF_TRY(cf_config_int_in(cfg, "decoder_layers", 1, 256, &m->dec_layers, err));
    CF_TRY(cf_config_int_in(cfg, "encoder_attention_heads", 1, 256, &enc_heads, err));
    CF_TRY(cf_config_int_in(cfg, "decoder_attention_heads", 1, 256, &dec_heads, err));
    CF_TRY(cf_config_int_in(cfg, "encoder_ffn_dim", 1, 1 << 16, &enc_ffn, err));
    CF_TRY(cf_config_int_in(cfg, "decoder_ffn_dim", 1, 1 << 16, &dec_ffn, err));
    CF_TRY(cf_config_int_in(cfg, "num_queries", 1, 1 << 14, &m->queries, err));
    if (m->d % enc_heads || m->d % dec_heads || m->d % 2)
        return cf_fail(err, CF_ERR_FORMAT, "%s: d_model %lld must be even and divisible by the heads", cfg->path,
                       (long long)m->d);
    const char *pos = cf_config_str(cfg, "position_embedding_type", "sine");
    if (strcmp(pos, "sine"))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' (only sine)", cfg->path, pos);
    m->enc_heads = (int)enc_heads;
    m->dec_heads = (int)dec_heads;
    cf_activation act;
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "activation_function", "relu"), "activation_function", &act, err));
    CF_TRY(cf_st_open_dir(dir, &m->st, err));
    const char *base = cf_st_find(m->st, "detr.model.input_projection.weight") ? "detr." : "";
    char n[300];
    CF_TRY(load_backbone(m, cfg, base, err));
    int stages = cf_resnet_num_stages(m->backbone);
    cf_conv2d_spec proj = {.in_ch = cf_resnet_stage_channels(m->backbone, stages - 1), .out_ch = m->d, .kernel = 1,
                           .stride = 1, .has_bias = true};
    CF_TRY(cf_conv2d_load(&m->input_proj, m->st, cf_vision_name(n, sizeof n, "%smodel.input_projection", base), &proj,
                          err));
    int64_t qshape[2] = {m->queries, m->d};
    CF_TRY(cf_weight_load(&m->query_pos, m->st,
                          cf_vision_name(n, sizeof n, "%smodel.query_position_embeddings.weight", base), 2, qshape, err));
    CF_TRY(load_layers(&m->enc, m->enc_layers, m->st, "%smodel.encoder.layers.%lld", base, m->d, m->enc_heads, enc_ffn,
                       act, false, err));
    CF_TRY(load_layers(&m->dec, m->dec_layers, m->st, "%smodel.decoder.layers.%lld", base, m->d, m->dec_heads, dec_ffn,
                       act, true, err));
    CF_TRY(cf_norm_load_layer(&m->dec_norm, m->st, cf_vision_name(n, sizeof n, "%smodel.decoder.layernorm", base), m->d,
                              DETR_LN_EPS, err));
    const cf_tensor *cls = cf_st_find(m->st, cf_vision_name(n, sizeof n, "%sclass_labels_classifier.weight", base));
    if (!cls || cls->ndim != 2 || cls->shape[0] < 2)
        return cf_fail(err, CF_ERR_NOT_FOUND, "detr: missing or malformed '%s'", n);
    m->n_logits = cls->shape[0];
    CF_TRY(cf_linear_load(&m->classifier, m->st, cf_vision_name(n, sizeof n, "%sclass_labels_classifier", base), m->d,
                          m->n_logits, true, err));
    for (int i = 0; i < DETR_MAX_BOX_LAYERS; i++) {
        char w[320];
        cf_vision_name(n, sizeof n, "%sbbox_predictor.layers.%d", base, i);
        if (!cf_st_find(m->st, cf_vision_name(w, sizeof w, "%s.weight", n)))
            break;
        bool last = !cf_st_find(m->st, cf_vision_name(w, sizeof w, "%sbbox_predictor.layers.%d.weight", base, i + 1));
        CF_TRY(cf_linear_load(&m->box[i], m->st, n, m->d, last ? 4 : m->d, true, err));
        m->n_box_layers = i + 1;
    }
    if (m->n_box_layers == 0)
        return cf_fail(err, CF_ERR_NOT_FOUND, "detr: missing '%sbbox_predictor.layers.0.weight'", base);
    m->has_masks = *base != '\0';
    if (m->has_masks)
        CF_TRY(load_mask_head(m, err));
    return CF_OK;
}

cf_status cf_detr_load(const char *dir, const cf_config *config, cf_detr **out, cf_error *err)
{
    *out = NULL;
    cf_detr *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "detr: cannot allocate the model");
    cf_status s = load_detr(m, dir, config, err);
    if (s != CF_OK) {
        cf_detr_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

static void free_attn(detr_attn *a)
{
    cf_linear_free(&a->q);
    cf_linear_free(&a->k);
    cf_linear_free(&a->v);
    cf_linear_free(&a->o);
}

static void free_layers(detr_layer *l, int64_t count)
{
    for (int64_t i = 0; l && i < count; i++) {
        free_attn(&l[i].self);
        free_attn(&l[i].cross);
        cf_norm_free(&l[i].self_norm);
        cf_norm_free(&l[i].cross_norm);
        cf_norm_free(&l[i].ffn_norm);
        cf_ffn_free(&l[i].ffn);
    }
    free(l);
}

void cf_detr_free(cf_detr *m)
{
    if (!m)
        return;
    cf_resnet_free(m->backbone);
    cf_conv2d_free(&m->input_proj);
    cf_weight_free(&m->query_pos);
    free_layers(m->enc, m->enc_layers);
    free_layers(m->dec, m->dec_layers);
    cf_norm_free(&m->dec_norm);
    cf_linear_free(&m->classifier);
    for (int i = 0; i < DETR_MAX_BOX_LAYERS; i++)
        cf_linear_free(&m->box[i]);
    detr_mask_head *h = &m->mask;
    cf_linear_free(&h->q_linear);
    cf_linear_free(&h->k_linear);
    for (int i = 0; i < DETR_MASK_LEVELS; i++) {
        cf_conv2d_free(&h->lay[i]);
        cf_weight_free(&h->gn_gamma[i]);
        cf_weight_free(&h->gn_beta[i]);
    }
    for (int i = 0; i < 3; i++)
        cf_conv2d_free(&h->adapter[i]);
    cf_conv2d_free(&h->out_lay);
    cf_arena_free(&m->arena);
    cf_st_close(m->st);
    free(m);
}

bool cf_detr_has_masks(const cf_detr *m) { return m->has_masks; }
int64_t cf_detr_num_queries(const cf_detr *m) { return m->queries; }
int64_t cf_detr_num_logits(const cf_detr *m) { return m->n_logits; }

bool cf_detr_mask_size(const cf_detr *m, int64_t h, int64_t w, int64_t *mh, int64_t *mw)
{
    int last = cf_resnet_num_stages(m->backbone) - 1;
    int64_t lh, lw;
    if (!cf_resnet_stage_size(m->backbone, last, h, w, &lh, &lw))
        return false;
    return cf_resnet_stage_size(m->backbone, 0, h, w, mh, mw);
}

/* ------------------------------------------------------------------ forward ---- */

/* Sine position embedding of one padding mask [h, w] -> pos[h, w, d]: channels [0, d/2) from the
 * normalized cumulative row count, [d/2, d) from the column count, sin/cos interleaved. */
static void sine_positions(const uint8_t *mask, int64_t h, int64_t w, int64_t d, float *pos, float *y_embed,
                           float *x_embed)
{
    const float scale = (float)(2.0 * M_PI);
    int64_t half = d / 2;
    for (int64_t j = 0; j < w; j++) {
        float acc = 0;
        for (int64_t i = 0; i < h; i++)
            y_embed[i * w + j] = acc += (float)mask[i * w + j];
    }
    for (int64_t i = 0; i < h; i++) {
        float acc = 0;
        for (int64_t j = 0; j < w; j++)
            x_embed[i * w + j] = acc += (float)mask[i * w + j];
    }
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            float y = y_embed[i * w + j] / (y_embed[(h - 1) * w + j] + 1e-6f) * scale;
            float x = x_embed[i * w + j] / (x_embed[i * w + w - 1] + 1e-6f) * scale;
            float *dst = pos + (i * w + j) * d;
            for (int64_t k = 0; k < half; k++) {
                float dim_t = powf(10000.0f, (float)(2 * (k / 2)) / (float)half);
                dst[k] = k % 2 ? cosf(y / dim_t) : sinf(y / dim_t);
                dst[half + k] = k % 2 ? cosf(x / dim_t) : sinf(x / dim_t);
            }
        }
}

/* out[n*nq, d] = attention(q: xq + q_pos, k: xk + k_pos, v: xk) per image. q_pos/k_pos may be NULL;
 * key_mask[n*nk] additive or NULL. */
static void attn_forward(const detr_attn *a, int64_t d, int64_t n, const float *xq, const float *q_pos, int64_t nq,
                         const float *xk, const float *k_pos, int64_t nk, const float *key_mask, float *out,
                         cf_arena *ar)
{
    size_t mark = cf_arena_mark(ar);
    float *tmp = cf_arena_floats(ar, (size_t)(n * (nq > nk ? nq : nk) * d));
    float *q = cf_arena_floats(ar, (size_t)(n * nq * d)), *ctx = cf_arena_floats(ar, (size_t)(n * nq * d));
    float *k = cf_arena_floats(ar, (size_t)(n * nk * d)), *v = cf_arena_floats(ar, (size_t)(n * nk * d));
    memcpy(tmp, xq, (size_t)(n * nq * d) * sizeof(float));
    if (q_pos)
        cf_add(tmp, q_pos, n * nq * d);
    cf_linear_forward(&a->q, tmp, n * nq, q);
    memcpy(tmp, xk, (size_t)(n * nk * d) * sizeof(float));
    if (k_pos)
        cf_add(tmp, k_pos, n * nk * d);
    cf_linear_forward(&a->k, tmp, n * nk, k);
    cf_linear_forward(&a->v, xk, n * nk, v);
    int hd = (int)(d / a->heads);
    for (int64_t b = 0; b < n; b++) {
        cf_attn_args args = {.n_q = nq, .n_kv = nk, .n_heads = a->heads, .n_kv_heads = a->heads, .head_dim = hd,
                             .q = q + b * nq * d, .q_stride = d, .k = k + b * nk * d, .k_stride = d,
                             .v = v + b * nk * d, .v_stride = d, .out = ctx + b * nq * d, .out_stride = d,
                             .scale = 1.0f / sqrtf((float)hd), .key_mask = key_mask ? key_mask + b * nk : NULL};
        cf_attention_f32(&args);
    }
    cf_linear_forward(&a->o, ctx, n * nq, out);
    cf_arena_rewind(ar, mark);
}

/* x = norm(x + sub). */
static void residual_norm(const cf_norm *norm, float *x, float *sub, int64_t rows)
{
    cf_add(sub, x, rows * norm->n);
    cf_norm_forward(norm, sub, x, rows);
}

typedef struct detr_maps {
    int64_t n, h, w;          /* input */
    int64_t fh, fw, tokens;   /* last backbone stage */
    float *stages[CF_RESNET_MAX_STAGES];
    int64_t sh[CF_RESNET_MAX_STAGES], sw[CF_RESNET_MAX_STAGES];
    uint8_t *mask;            /* [n, tokens] */
    float *key_mask;          /* [n, tokens] additive */
    float *proj, *memory, *pos; /* [n, tokens, d]: projected features, encoder output, positions */
    float *hidden;            /* [n, queries, d] decoder output after the final norm */
} detr_maps;

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static size_t mask_head_bytes(const cf_detr *m, const detr_maps *s)
{
    const detr_mask_head *h = &m->mask;
    int64_t n = s->n, t = s->tokens, q = m->queries;
    size_t bytes = 2 * cf_vision_floats_bytes(n * q * m->d) + cf_vision_floats_bytes(n * t * m->d);
    int64_t biggest = t * (m->d + m->enc_heads);
    size_t conv = 0;
    for (int i = 0; i < 3; i++) {
        int st = 2 - i;
        int64_t px = s->sh[st] * s->sw[st];
        bytes += cf_vision_floats_bytes(n * px * h->adapter[i].out_ch);
        conv = max_size(conv, cf_conv2d_scratch_bytes(&h->adapter[i], n, s->sh[st], s->sw[st]));
        int64_t in_ch = h->lay[i + 1].out_ch, wide = px * (in_ch > h->lay[i + 2].out_ch ? in_ch : h->lay[i + 2].out_ch);
        biggest = wide > biggest ? wide : biggest;
    }
    for (int i = 0; i < DETR_MASK_LEVELS; i++) {
        int st = i < 2 ? 3 : 4 - i;
        conv = max_size(conv, cf_conv2d_scratch_bytes(&h->lay[i], 1, s->sh[st], s->sw[st]));
    }
    conv = max_size(conv, cf_conv2d_scratch_bytes(&h->out_lay, 1, s->sh[0], s->sw[0]));
    return bytes + 3 * cf_vision_floats_bytes(biggest) + conv + 16 * CF_ARENA_ALIGN;
}

static size_t arena_bytes(const cf_detr *m, const detr_maps *s)
{
    int64_t n = s->n, t = s->tokens, d = m->d, q = m->queries;
    size_t bytes = cf_vision_floats_bytes(n * s->h * s->w * 3) + cf_vision_floats_bytes(n * s->h * s->w);
    for (int i = 0; i < cf_resnet_num_stages(m->backbone); i++)
        bytes += cf_vision_floats_bytes(n * s->sh[i] * s->sw[i] * cf_resnet_stage_channels(m->backbone, i));
    bytes += 4 * cf_vision_floats_bytes(n * t) + 3 * cf_vision_floats_bytes(n * t * d) + 2 * cf_vision_floats_bytes(t);
    int64_t ffn = 0;
    for (int64_t i = 0; i < m->enc_layers; i++)
        ffn = m->enc[i].ffn.inner > ffn ? m->enc[i].ffn.inner : ffn;
    for (int64_t i = 0; i < m->dec_layers; i++)
        ffn = m->dec[i].ffn.inner > ffn ? m->dec[i].ffn.inner : ffn;
    int64_t rows = t > q ? t : q;
    size_t transformer = 8 * cf_vision_floats_bytes(n * rows * d) + cf_vision_floats_bytes(n * rows * ffn) +
                         4 * cf_vision_floats_bytes(n * q * d);
    size_t backbone = cf_resnet_scratch_bytes(m->backbone, n, s->h, s->w) +
                      cf_conv2d_scratch_bytes(&m->input_proj, n, s->fh, s->fw);
    size_t work = transformer > backbone ? transformer : backbone;
    if (m->has_masks)
        work += mask_head_bytes(m, s);
    return bytes + work + 64 * CF_ARENA_ALIGN;
}

/* Backbone, projection, masks and positions at the last stage. */
static void encode_image(cf_detr *m, const float *pixel_values, const uint8_t *pixel_mask, detr_maps *s,
                         const cf_vision_tap *tap, cf_arena *a)
{
    int64_t n = s->n, d = m->d, t = s->tokens;
    int last = cf_resnet_num_stages(m->backbone) - 1;
    size_t mark = cf_arena_mark(a);
    float *input = cf_arena_floats(a, (size_t)(n * s->h * s->w * 3));
    cf_nchw_to_nhwc(pixel_values, n, 3, s->h * s->w, input);
    cf_resnet_forward(m->backbone, input, n, s->h, s->w, s->stages, a);
    char name[64];
    cf_vision_emit_map(tap, cf_vision_name(name, sizeof name, "backbone.stage%d", last + 1), s->stages[last], n, s->fh,
                       s->fw, cf_resnet_stage_channels(m->backbone, last));
    cf_conv2d_forward(&m->input_proj, s->stages[last], n, s->fh, s->fw, s->proj, a);
    cf_vision_emit_map(tap, "input_projection", s->proj, n, s->fh, s->fw, d);
    cf_arena_rewind(a, mark);

    /* the pixel mask, nearest-resized to the feature map, gives key masks and positions */
    mark = cf_arena_mark(a);
    float *plane = cf_arena_floats(a, (size_t)(s->h * s->w)), *small = cf_arena_floats(a, (size_t)t);
    float *ye = cf_arena_floats(a, (size_t)t), *xe = cf_arena_floats(a, (size_t)t);
    for (int64_t b = 0; b < n; b++) {
        for (int64_t p = 0; p < s->h * s->w; p++)
            plane[p] = pixel_mask ? (float)(pixel_mask[b * s->h * s->w + p] != 0) : 1.0f;
        cf_interpolate(plane, s->h, s->w, 1, small, s->fh, s->fw, CF_INTERP_NEAREST, 0, 0);
        for (int64_t p = 0; p < t; p++) {
            s->mask[b * t + p] = small[p] != 0.0f;
            s->key_mask[b * t + p] = small[p] != 0.0f ? 0.0f : -FLT_MAX;
        }
        sine_positions(s->mask + b * t, s->fh, s->fw, d, s->pos + b * t * d, ye, xe);
    }
    cf_vision_emit_map(tap, "position_embedding", s->pos, n, s->fh, s->fw, d);
    cf_arena_rewind(a, mark);
}

static void encoder_forward(cf_detr *m, detr_maps *s, const cf_vision_tap *tap, cf_arena *a)
{
    int64_t n = s->n, t = s->tokens, d = m->d;
    float *x = s->memory;
    memcpy(x, s->proj, (size_t)(n * t * d) * sizeof(float));
    cf_vision_emit(tap, "encoder_hidden_states.0", x, n, t, d);
    for (int64_t i = 0; i < m->enc_layers; i++) {
        const detr_layer *l = &m->enc[i];
        size_t mark = cf_arena_mark(a);
        float *sub = cf_arena_floats(a, (size_t)(n * t * d));
        attn_forward(&l->self, d, n, x, s->pos, t, x, s->pos, t, s->key_mask, sub, a);
        residual_norm(&l->self_norm, x, sub, n * t);
        cf_ffn_forward(&l->ffn, x, n * t, sub, a);
        residual_norm(&l->ffn_norm, x, sub, n * t);
        cf_arena_rewind(a, mark);
        char name[64];
        cf_vision_emit(tap, cf_vision_name(name, sizeof name, "encoder_hidden_states.%lld", (long long)(i + 1)), x, n,
                       t, d);
    }
}

static void decoder_forward(cf_detr *m, detr_maps *s, const cf_vision_tap *tap, cf_arena *a)
{
    int64_t n = s->n, t = s->tokens, d = m->d, q = m->queries;
    float *x = cf_arena_floats(a, (size_t)(n * q * d)), *qpos = cf_arena_floats(a, (size_t)(n * q * d));
    memset(x, 0, (size_t)(n * q * d) * sizeof(float));
    for (int64_t b = 0; b < n; b++)
        memcpy(qpos + b * q * d, m->query_pos.data, (size_t)(q * d) * sizeof(float));
    char name[64];
    cf_vision_emit(tap, "decoder_hidden_states.0", x, n, q, d);
    for (int64_t i = 0; i < m->dec_layers; i++) {
        const detr_layer *l = &m->dec[i];
        size_t mark = cf_arena_mark(a);
        float *sub = cf_arena_floats(a, (size_t)(n * q * d));
        attn_forward(&l->self, d, n, x, qpos, q, x, qpos, q, NULL, sub, a);
        residual_norm(&l->self_norm, x, sub, n * q);
        attn_forward(&l->cross, d, n, x, qpos, q, s->memory, s->pos, t, s->key_mask, sub, a);
        residual_norm(&l->cross_norm, x, sub, n * q);
        cf_ffn_forward(&l->ffn, x, n * q, sub, a);
        residual_norm(&l->ffn_norm, x, sub, n * q);
        cf_arena_rewind(a, mark);
        if (i + 1 < m->dec_layers)
            cf_vision_emit(tap, cf_vision_name(name, sizeof name, "decoder_hidden_states.%lld", (long long)(i + 1)), x,
                           n, q, d);
    }
    cf_norm_forward(&m->dec_norm, x, s->hidden, n * q);
    cf_vision_emit(tap, cf_vision_name(name, sizeof name, "decoder_hidden_states.%lld", (long long)m->dec_layers),
                   s->hidden, n, q, d);
    cf_vision_emit(tap, "last_hidden_state", s->hidden, n, q, d);
}

static void heads_forward(cf_detr *m, const detr_maps *s, const cf_vision_tap *tap, const cf_detr_output *out,
                          cf_arena *a)
{
    int64_t rows = s->n * m->queries, d = m->d;
    cf_linear_forward(&m->classifier, s->hidden, rows, out->logits);
    size_t mark = cf_arena_mark(a);
    float *t0 = cf_arena_floats(a, (size_t)(rows * d)), *t1 = cf_arena_floats(a, (size_t)(rows * d));
    const float *cur = s->hidden;
    for (int i = 0; i < m->n_box_layers; i++) {
        bool last = i == m->n_box_layers - 1;
        float *dst = last ? out->boxes : (i % 2 ? t1 : t0);
        cf_linear_forward(&m->box[i], cur, rows, dst);
        if (!last)
            cf_relu(dst, rows * d);
        cur = dst;
    }
    for (int64_t i = 0; i < rows * 4; i++)
        out->boxes[i] = 1.0f / (1.0f + expf(-out->boxes[i]));
    cf_arena_rewind(a, mark);
    cf_vision_emit(tap, "logits", out->logits, s->n, m->queries, m->n_logits);
    cf_vision_emit(tap, "pred_boxes", out->boxes, s->n, m->queries, 4);
}

/* MHAttentionMap for one query: softmax over all (head, pixel) of q_h . k_h(pixel), padding
 * excluded; written as channels [d, d + heads) of x0[tokens, d + heads]. */
static void attention_map(const cf_detr *m, const float *qv, const float *k, const float *key_mask, int64_t t,
                          float *x0)
{
    int64_t d = m->d, ch = d + m->enc_heads, hd = d / m->enc_heads;
    float norm = (float)pow((double)d / (double)m->enc_heads, -0.5), maxv = -INFINITY;
    for (int64_t p = 0; p < t; p++)
        for (int h = 0; h < m->enc_heads; h++) {
            float acc = 0;
            for (int64_t c = 0; c < hd; c++)
                acc += qv[h * hd + c] * norm * k[p * d + h * hd + c];
            float v = key_mask[p] != 0.0f ? -FLT_MAX : acc;
            x0[p * ch + d + h] = v;
            maxv = v > maxv ? v : maxv;
        }
    double sum = 0;
    for (int64_t p = 0; p < t; p++)
        for (int h = 0; h < m->enc_heads; h++) {
            float *v = &x0[p * ch + d + h];
            *v = expf(*v - maxv);
            sum += *v;
        }
    for (int64_t p = 0; p < t; p++)
        for (int h = 0; h < m->enc_heads; h++)
            x0[p * ch + d + h] = (float)(x0[p * ch + d + h] / sum);
}

/* conv -> GroupNorm -> ReLU. */
static void conv_gn_relu(const detr_mask_head *h, int i, const float *x, int64_t hh, int64_t ww, float *y,
                         cf_arena *a)
{
    cf_conv2d_forward(&h->lay[i], x, 1, hh, ww, y, a);
    cf_group_norm(y, 1, hh * ww, h->lay[i].out_ch, h->gn_groups[i], h->gn_gamma[i].data, h->gn_beta[i].data,
                  DETR_GN_EPS);
    cf_relu(y, hh * ww * h->lay[i].out_ch);
}

static void mask_head_forward(cf_detr *m, const detr_maps *s, const cf_vision_tap *tap, const cf_detr_output *out,
                              cf_arena *a)
{
    const detr_mask_head *h = &m->mask;
    int64_t n = s->n, q = m->queries, t = s->tokens, d = m->d, ch0 = d + m->enc_heads;
    size_t mark = cf_arena_mark(a);
    float *qv = cf_arena_floats(a, (size_t)(n * q * d)), *k = cf_arena_floats(a, (size_t)(n * t * d));
    cf_linear_forward(&h->q_linear, s->hidden, n * q, qv);
    cf_linear_forward(&h->k_linear, s->memory, n * t, k);
    float *fpn[3];
    for (int i = 0; i < 3; i++) {
        int st = 2 - i;
        fpn[i] = cf_arena_floats(a, (size_t)(n * s->sh[st] * s->sw[st] * h->adapter[i].out_ch));
        cf_conv2d_forward(&h->adapter[i], s->stages[st], n, s->sh[st], s->sw[st], fpn[i], a);
    }
    int64_t biggest = t * ch0;
    for (int i = 0; i < 3; i++) {
        int st = 2 - i;
        int64_t in_ch = h->lay[i + 1].out_ch, wide = in_ch > h->lay[i + 2].out_ch ? in_ch : h->lay[i + 2].out_ch;
        biggest = s->sh[st] * s->sw[st] * wide > biggest ? s->sh[st] * s->sw[st] * wide : biggest;
    }
    float *x0 = cf_arena_floats(a, (size_t)biggest), *x1 = cf_arena_floats(a, (size_t)biggest);
    float *x2 = cf_arena_floats(a, (size_t)biggest);
    int64_t mh = s->sh[0], mw = s->sw[0];
    for (int64_t b = 0; b < n; b++)
        for (int64_t j = 0; j < q; j++) {
            for (int64_t p = 0; p < t; p++)
                memcpy(x0 + p * ch0, s->proj + (b * t + p) * d, (size_t)d * sizeof(float));
            attention_map(m, qv + (b * q + j) * d, k + b * t * d, s->key_mask + b * t, t, x0);
            conv_gn_relu(h, 0, x0, s->fh, s->fw, x1, a);
            conv_gn_relu(h, 1, x1, s->fh, s->fw, x0, a);
            int64_t ph = s->fh, pw = s->fw;
            for (int i = 0; i < 3; i++) { /* upsample to the next finer stage and add its adapter */
                int st = 2 - i;
                int64_t c = h->adapter[i].out_ch, px = s->sh[st] * s->sw[st];
                cf_interpolate(x0, ph, pw, c, x1, s->sh[st], s->sw[st], CF_INTERP_NEAREST, 0, 0);
                cf_add(x1, fpn[i] + b * px * c, px * c);
                ph = s->sh[st];
                pw = s->sw[st];
                conv_gn_relu(h, i + 2, x1, ph, pw, x0, a);
            }
            cf_conv2d_forward(&h->out_lay, x0, 1, mh, mw, x2, a);
            memcpy(out->masks + (b * q + j) * mh * mw, x2, (size_t)(mh * mw) * sizeof(float));
        }
    cf_vision_emit(tap, "pred_masks", out->masks, n, q, mh * mw);
    cf_arena_rewind(a, mark);
}

cf_status cf_detr_forward(cf_detr *m, const float *pixel_values, const uint8_t *pixel_mask, int64_t n, int64_t h,
                          int64_t w, const cf_vision_tap *tap, const cf_detr_output *out, cf_error *err)
{
    CF_TRY(cf_vision_check_input("detr", n, 3, h, w, 3, 32, err));
    detr_maps s = {.n = n, .h = h, .w = w};
    int stages = cf_resnet_num_stages(m->backbone);
    for (int i = 0; i < stages; i++)
        if (!cf_resnet_stage_size(m->backbone, i, h, w, &s.sh[i], &s.sw[i]))
            return cf_fail(err, CF_ERR_SHAPE, "detr: image of %lldx%lld pixels is too small for the backbone",
                           (long long)h, (long long)w);
    s.fh = s.sh[stages - 1];
    s.fw = s.sw[stages - 1];
    s.tokens = s.fh * s.fw;
    CF_TRY(cf_vision_arena_reserve(&m->arena, arena_bytes(m, &s), err));
    cf_arena *a = &m->arena;
    cf_arena_reset(a);
    for (int i = 0; i < stages; i++)
        s.stages[i] = cf_arena_floats(a, (size_t)(n * s.sh[i] * s.sw[i] * cf_resnet_stage_channels(m->backbone, i)));
    s.mask = cf_arena_alloc(a, (size_t)(n * s.tokens));
    s.key_mask = cf_arena_floats(a, (size_t)(n * s.tokens));
    s.proj = cf_arena_floats(a, (size_t)(n * s.tokens * m->d));
    s.memory = cf_arena_floats(a, (size_t)(n * s.tokens * m->d));
    s.pos = cf_arena_floats(a, (size_t)(n * s.tokens * m->d));
    s.hidden = cf_arena_floats(a, (size_t)(n * m->queries * m->d));
    encode_image(m, pixel_values, pixel_mask, &s, tap, a);
    encoder_forward(m, &s, tap, a);
    decoder_forward(m, &s, tap, a);
    heads_forward(m, &s, tap, out, a);
    if (m->has_masks && out->masks)
        mask_head_forward(m, &s, tap, out, a);
    cf_arena_reset(a);
    return CF_OK;
}
