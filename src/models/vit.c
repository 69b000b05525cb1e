/* ViT (Dosovitskiy et al., "An Image is Worth 16x16 Words"): the image cut into patches by a
 * strided convolution, a learned [CLS] token in front, learned position embeddings (bicubically
 * interpolated for other image sizes, as transformers' interpolate_pos_encoding does), pre-LN
 * transformer layers, a final LayerNorm and a linear classifier on the [CLS] token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/vision.h"
#include "nn/conv.h"
#include "nn/conv_maps.h"
#include "nn/encoder_layer.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/weights.h"

struct cf_vit {
    int64_t hidden, patch, channels, grid; /* grid: patches per side of the position table */
    int64_t n_layers, n_labels;
    cf_conv2d patch_embed;
    cf_weight cls_token, positions; /* [hidden], [1 + grid^2, hidden] */
    cf_encoder_layer *layers;
    cf_norm final_norm;
    bool has_pooler;
    cf_linear pooler;
    cf_linear classifier; /* n_in 0 when absent (ViTModel) */
    cf_arena arena;
};

static cf_status load_layers(cf_vit *m, const cf_safetensors *st, const char *p, int64_t inner, int heads,
                             cf_activation act, float eps, cf_error *err)
{
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers)
        return cf_fail(err, CF_ERR_NOMEM, "vit: cannot allocate %lld layers", (long long)m->n_layers);
    for (int64_t i = 0; i < m->n_layers; i++) {
        cf_encoder_layer *l = &m->layers[i];
        char q[256], k[256], v[256], o[256], a[256], b[256];
        l->pre_norm = true;
        CF_TRY(cf_self_attention_load(
            &l->attn, st, cf_vision_name(q, sizeof q, "%sencoder.layer.%lld.attention.attention.query", p, (long long)i),
            cf_vision_name(k, sizeof k, "%sencoder.layer.%lld.attention.attention.key", p, (long long)i),
            cf_vision_name(v, sizeof v, "%sencoder.layer.%lld.attention.attention.value", p, (long long)i),
            cf_vision_name(o, sizeof o, "%sencoder.layer.%lld.attention.output.dense", p, (long long)i), m->hidden,
            heads, err));
        CF_TRY(cf_norm_load_layer(&l->attn_norm, st,
                                  cf_vision_name(a, sizeof a, "%sencoder.layer.%lld.layernorm_before", p, (long long)i),
                                  m->hidden, eps, err));
        CF_TRY(cf_norm_load_layer(&l->ffn_norm, st,
                                  cf_vision_name(b, sizeof b, "%sencoder.layer.%lld.layernorm_after", p, (long long)i),
                                  m->hidden, eps, err));
        CF_TRY(cf_ffn_load(&l->ffn, st,
                           cf_vision_name(a, sizeof a, "%sencoder.layer.%lld.intermediate.dense", p, (long long)i),
                           cf_vision_name(b, sizeof b, "%sencoder.layer.%lld.output.dense", p, (long long)i),
                           m->hidden, inner, act, err));
    }
    return CF_OK;
}

static cf_status load_vit(cf_vit *m, const cf_safetensors *st, const cf_config *cfg, cf_error *err)
{
    int64_t heads, inner, image_size;
    CF_TRY(cf_config_int_in(cfg, "hidden_size", 1, 1 << 16, &m->hidden, err));
    CF_TRY(cf_config_int_in(cfg, "num_hidden_layers", 1, 1024, &m->n_layers, err));
    CF_TRY(cf_config_int_in(cfg, "num_attention_heads", 1, 1024, &heads, err));
    CF_TRY(cf_config_int_in(cfg, "intermediate_size", 1, 1 << 20, &inner, err));
    CF_TRY(cf_config_int_in(cfg, "image_size", 1, 16384, &image_size, err));
    CF_TRY(cf_config_int_in(cfg, "patch_size", 1, 1024, &m->patch, err));
    CF_TRY(cf_config_int_in_or(cfg, "num_channels", 3, 1, 64, &m->channels, err));
    if (!cf_config_bool(cfg, "qkv_bias", true))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: qkv_bias false is not supported", cfg->path);
    cf_activation act;
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "hidden_act", "gelu"), "hidden_act", &act, err));
    double eps_read;
    CF_TRY(cf_config_float_checked(cfg, "layer_norm_eps", 1e-12, &eps_read, err));
    float eps = (float)eps_read;
    m->grid = image_size / m->patch;
    if (m->grid < 1)
        return cf_fail(err, CF_ERR_FORMAT, "%s: image_size %lld is smaller than patch_size %lld", cfg->path,
                       (long long)image_size, (long long)m->patch);

    const char *p = cf_st_find(st, "vit.embeddings.cls_token") ? "vit." : "";
    char name[256];
    cf_conv2d_spec spec = {.in_ch = m->channels, .out_ch = m->hidden, .kernel = (int)m->patch,
                           .stride = (int)m->patch, .has_bias = true};
    CF_TRY(cf_conv2d_load(&m->patch_embed, st,
                          cf_vision_name(name, sizeof name, "%sembeddings.patch_embeddings.projection", p), &spec, err));
    int64_t cls_shape[3] = {1, 1, m->hidden}, pos_shape[3] = {1, 1 + m->grid * m->grid, m->hidden};
    CF_TRY(cf_weight_load(&m->cls_token, st, cf_vision_name(name, sizeof name, "%sembeddings.cls_token", p), 3,
                          cls_shape, err));
    CF_TRY(cf_weight_load(&m->positions, st,
                          cf_vision_name(name, sizeof name, "%sembeddings.position_embeddings", p), 3, pos_shape, err));
    CF_TRY(load_layers(m, st, p, inner, (int)heads, act, eps, err));
    CF_TRY(cf_norm_load_layer(&m->final_norm, st, cf_vision_name(name, sizeof name, "%slayernorm", p), m->hidden,
                              eps, err));
    cf_vision_name(name, sizeof name, "%spooler.dense", p);
    char probe[300];
    if (cf_st_find(st, cf_vision_name(probe, sizeof probe, "%s.weight", name))) {
        m->has_pooler = true;
        CF_TRY(cf_linear_load(&m->pooler, st, name, m->hidden, m->hidden, true, err));
    }
    const cf_tensor *cls = cf_st_find(st, "classifier.weight");
    if (cls) {
        m->n_labels = cls->ndim == 2 ? cls->shape[0] : 0;
        CF_TRY(cf_linear_load(&m->classifier, st, "classifier", m->hidden, m->n_labels, true, err));
    }
    return CF_OK;
}

cf_status cf_vit_load(const cf_safetensors *st, const cf_config *config, cf_vit **out, cf_error *err)
{
    *out = NULL;
    cf_vit *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "vit: cannot allocate the model");
    cf_status s = load_vit(m, st, config, err);
    if (s != CF_OK) {
        cf_vit_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

void cf_vit_free(cf_vit *m)
{
    if (!m)
        return;
    cf_conv2d_free(&m->patch_embed);
    cf_weight_free(&m->cls_token);
    cf_weight_free(&m->positions);
    for (int64_t i = 0; m->layers && i < m->n_layers; i++)
        cf_encoder_layer_free(&m->layers[i]);
    free(m->layers);
    cf_norm_free(&m->final_norm);
    cf_linear_free(&m->pooler);
    cf_linear_free(&m->classifier);
    cf_arena_free(&m->arena);
    free(m);
}

int64_t cf_vit_num_labels(const cf_vit *m) { return m->n_labels; }

/* Position rows for a gh x gw patch grid: the table itself, or its patch part resized
 * bicubically with transformers' scale factor (g + 0.1) / grid. */
static void patch_positions(const cf_vit *m, int64_t gh, int64_t gw, float *out)
{
    const float *table = m->positions.data + m->hidden;
    if (gh == m->grid && gw == m->grid) {
        memcpy(out, table, (size_t)(gh * gw * m->hidden) * sizeof(float));
        return;
    }
    double g = (double)m->grid;
    cf_interpolate(table, m->grid, m->grid, m->hidden, out, gh, gw, CF_INTERP_BICUBIC, ((double)gh + 0.1) / g,
                   ((double)gw + 0.1) / g);
}

static size_t arena_bytes(const cf_vit *m, int64_t n, int64_t h, int64_t w, int64_t tokens)
{
    int64_t patches = tokens - 1;
    size_t layer = 0;
    for (int64_t i = 0; i < m->n_layers; i++) {
        size_t b = cf_encoder_layer_scratch_bytes(&m->layers[i], n * tokens);
        layer = b > layer ? b : layer;
    }
    size_t conv = cf_vision_floats_bytes(n * h * w * m->channels) + cf_conv2d_scratch_bytes(&m->patch_embed, n, h, w) +
                  cf_vision_floats_bytes(n * patches * m->hidden);
    size_t body = cf_vision_floats_bytes(n * tokens * m->hidden) * 2 + cf_vision_floats_bytes(patches * m->hidden) +
                  cf_vision_floats_bytes(n * m->hidden) * 2;
    return body + (conv > layer ? conv : layer) + 4 * CF_ARENA_ALIGN;
}

/* x[n, 1 + P, hidden] = [CLS; patches] + positions. */
static void embed(cf_vit *m, const float *pixel_values, int64_t n, int64_t h, int64_t w, int64_t gh, int64_t gw,
                  float *x)
{
    size_t mark = cf_arena_mark(&m->arena);
    int64_t patches = gh * gw, tokens = patches + 1, d = m->hidden;
    float *nhwc = cf_arena_floats(&m->arena, (size_t)(n * h * w * m->channels));
    float *emb = cf_arena_floats(&m->arena, (size_t)(n * patches * d));
    float *pos = cf_arena_floats(&m->arena, (size_t)(patches * d));
    cf_nchw_to_nhwc(pixel_values, n, m->channels, h * w, nhwc);
    cf_conv2d_forward(&m->patch_embed, nhwc, n, h, w, emb, &m->arena);
    patch_positions(m, gh, gw, pos);
    for (int64_t b = 0; b < n; b++) {
        float *seq = x + b * tokens * d;
        for (int64_t i = 0; i < d; i++)
            seq[i] = m->cls_token.data[i] + m->positions.data[i];
        memcpy(seq + d, emb + b * patches * d, (size_t)(patches * d) * sizeof(float));
        cf_add(seq + d, pos, patches * d);
    }
    cf_arena_rewind(&m->arena, mark);
}

cf_status cf_vit_forward(cf_vit *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                         const cf_vision_tap *tap, float *logits, cf_error *err)
{
    CF_TRY(cf_vision_check_input("vit", n, m->channels, h, w, m->channels, m->patch, err));
    int64_t gh = h / m->patch, gw = w / m->patch, tokens = gh * gw + 1, d = m->hidden;
    CF_TRY(cf_vision_arena_reserve(&m->arena, arena_bytes(m, n, h, w, tokens), err));
    cf_arena_reset(&m->arena);
    float *x = cf_arena_floats(&m->arena, (size_t)(n * tokens * d));
    float *normed = cf_arena_floats(&m->arena, (size_t)(n * tokens * d));
    float *cls = cf_arena_floats(&m->arena, (size_t)(n * d));
    float *pooled = cf_arena_floats(&m->arena, (size_t)(n * d));
    embed(m, pixel_values, n, h, w, gh, gw, x);
    cf_vision_emit(tap, "embeddings", x, n, tokens, d);
    for (int64_t i = 0; i < m->n_layers; i++) {
        cf_encoder_layer_forward(&m->layers[i], x, n, tokens, NULL, &m->arena);
        char name[64];
        cf_vision_name(name, sizeof name, "hidden_states.%lld", (long long)(i + 1));
        cf_vision_emit(tap, name, x, n, tokens, d);
    }
    cf_norm_forward(&m->final_norm, x, normed, n * tokens);
    cf_vision_emit(tap, "last_hidden_state", normed, n, tokens, d);
    for (int64_t b = 0; b < n; b++)
        memcpy(cls + b * d, normed + b * tokens * d, (size_t)d * sizeof(float));
    if (m->has_pooler) {
        cf_linear_forward(&m->pooler, cls, n, pooled);
        cf_tanh_inplace(pooled, n * d);
        cf_vision_emit(tap, "pooler_output", pooled, n, 1, d);
    }
    if (m->n_labels > 0 && logits) {
        cf_linear_forward(&m->classifier, cls, n, logits);
        cf_vision_emit(tap, "logits", logits, n, 1, m->n_labels);
    }
    cf_arena_reset(&m->arena);
    return CF_OK;
}
