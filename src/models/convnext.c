/* ConvNeXT (Liu et al., "A ConvNet for the 2020s"): a 4x4 stride-4 "patchify" stem with a
 * LayerNorm, then stages of blocks
 *
 *     x = x + gamma * pw2(act(pw1(LN(dwconv7x7(x)))))
 *
 * with LayerNorm + 2x2 stride-2 convolutions between stages, global average pooling, a final
 * LayerNorm and a linear classifier. Maps stay channels-last, so every LayerNorm is a row norm
 * and both pointwise convolutions are GEMMs. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/vision.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/conv_maps.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/weights.h"

#define CONVNEXT_MAX_STAGES 8
#define CONVNEXT_BLOCK_EPS 1e-6f /* the stem, block and downsampling norms hard-code it */

typedef struct convnext_block {
    cf_conv2d dwconv;
    cf_norm norm;
    cf_linear pw1, pw2;
    cf_weight layer_scale; /* NULL data when layer scale is off */
} convnext_block;

typedef struct convnext_stage {
    int64_t dim, depth;
    bool downsample;
    cf_norm down_norm;
    cf_conv2d down_conv;
    convnext_block *blocks;
} convnext_stage;

struct cf_convnext {
    int64_t channels, patch, n_stages, n_labels;
    cf_activation act;
    cf_conv2d stem;
    cf_norm stem_norm;
    convnext_stage stages[CONVNEXT_MAX_STAGES];
    cf_norm final_norm;
    cf_linear classifier;
    cf_arena arena;
};

static cf_status load_block(convnext_block *blk, const cf_safetensors *st, const char *p, int64_t dim,
                            cf_error *err)
{
    char name[300];
    cf_conv2d_spec dw = {.in_ch = dim, .out_ch = dim, .kernel = 7, .pad = 3, .stride = 1, .depthwise = true,
                         .has_bias = true};
    CF_TRY(cf_conv2d_load(&blk->dwconv, st, cf_vision_name(name, sizeof name, "%s.dwconv", p), &dw, err));
    CF_TRY(cf_norm_load_layer(&blk->norm, st, cf_vision_name(name, sizeof name, "%s.layernorm", p), dim,
                              CONVNEXT_BLOCK_EPS, err));
    CF_TRY(cf_linear_load(&blk->pw1, st, cf_vision_name(name, sizeof name, "%s.pwconv1", p), dim, 4 * dim, true, err));
    CF_TRY(cf_linear_load(&blk->pw2, st, cf_vision_name(name, sizeof name, "%s.pwconv2", p), 4 * dim, dim, true, err));
    cf_vision_name(name, sizeof name, "%s.layer_scale_parameter", p);
    if (cf_st_find(st, name))
        CF_TRY(cf_weight_load(&blk->layer_scale, st, name, 1, &dim, err));
    return CF_OK;
}

static cf_status load_stage(cf_convnext *m, const cf_safetensors *st, const char *base, int64_t i, int64_t in_dim,
                            cf_error *err)
{
    convnext_stage *s = &m->stages[i];
    char name[300];
    cf_vision_name(name, sizeof name, "%sencoder.stages.%lld.downsampling_layer.1.weight", base, (long long)i);
    s->downsample = cf_st_find(st, name) != NULL;
    if (!s->downsample && in_dim != s->dim)
        return cf_fail(err, CF_ERR_NOT_FOUND, "convnext: stage %lld changes width %lld -> %lld but has no '%s'",
                       (long long)i, (long long)in_dim, (long long)s->dim, name);
    if (s->downsample) {
        CF_TRY(cf_norm_load_layer(
            &s->down_norm, st,
            cf_vision_name(name, sizeof name, "%sencoder.stages.%lld.downsampling_layer.0", base, (long long)i), in_dim,
            CONVNEXT_BLOCK_EPS, err));
        int stride = i > 0 ? 2 : 1;
        cf_conv2d_spec spec = {.in_ch = in_dim, .out_ch = s->dim, .kernel = stride, .stride = stride,
                               .has_bias = true};
        CF_TRY(cf_conv2d_load(
            &s->down_conv, st,
            cf_vision_name(name, sizeof name, "%sencoder.stages.%lld.downsampling_layer.1", base, (long long)i), &spec,
            err));
    }
    s->blocks = calloc((size_t)s->depth, sizeof *s->blocks);
    if (!s->blocks)
        return cf_fail(err, CF_ERR_NOMEM, "convnext: cannot allocate %lld blocks", (long long)s->depth);
    for (int64_t j = 0; j < s->depth; j++)
        CF_TRY(load_block(&s->blocks[j], st,
                          cf_vision_name(name, sizeof name, "%sencoder.stages.%lld.layers.%lld", base, (long long)i,
                                         (long long)j),
                          s->dim, err));
    return CF_OK;
}

static cf_status load_convnext(cf_convnext *m, const cf_safetensors *st, const cf_config *cfg, cf_error *err)
{
    /* m->n_stages bounds what cf_convnext_free walks: set it only once it is known valid */
    int64_t n_stages;
    CF_TRY(cf_config_int_in_or(cfg, "num_stages", 4, 1, CONVNEXT_MAX_STAGES, &n_stages, err));
    int64_t dims[CONVNEXT_MAX_STAGES], depths[CONVNEXT_MAX_STAGES];
    CF_TRY(cf_vision_config_ints(cfg, "hidden_sizes", (size_t)n_stages, 1, 1 << 16, dims, err));
    CF_TRY(cf_vision_config_ints(cfg, "depths", (size_t)n_stages, 0, 1024, depths, err));
    m->n_stages = n_stages;
    CF_TRY(cf_config_int_in_or(cfg, "num_channels", 3, 1, 64, &m->channels, err));
    CF_TRY(cf_config_int_in_or(cfg, "patch_size", 4, 1, 64, &m->patch, err));
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "hidden_act", "gelu"), "hidden_act", &m->act, err));
    double eps_read;
    CF_TRY(cf_config_float_checked(cfg, "layer_norm_eps", 1e-12, &eps_read, err));
    float eps = (float)eps_read;

    const char *base = cf_st_find(st, "convnext.embeddings.patch_embeddings.weight") ? "convnext." : "";
    char name[300];
    cf_conv2d_spec stem = {.in_ch = m->channels, .out_ch = dims[0], .kernel = (int)m->patch, .stride = (int)m->patch,
                           .has_bias = true};
    CF_TRY(cf_conv2d_load(&m->stem, st, cf_vision_name(name, sizeof name, "%sembeddings.patch_embeddings", base),
                          &stem, err));
    CF_TRY(cf_norm_load_layer(&m->stem_norm, st, cf_vision_name(name, sizeof name, "%sembeddings.layernorm", base),
                              dims[0], CONVNEXT_BLOCK_EPS, err));
    for (int64_t i = 0; i < m->n_stages; i++) {
        m->stages[i].dim = dims[i];
        m->stages[i].depth = depths[i];
        CF_TRY(load_stage(m, st, base, i, i > 0 ? dims[i - 1] : dims[0], err));
    }
    int64_t last = dims[m->n_stages - 1];
    CF_TRY(cf_norm_load_layer(&m->final_norm, st, cf_vision_name(name, sizeof name, "%slayernorm", base), last, eps,
                              err));
    const cf_tensor *cls = cf_st_find(st, "classifier.weight");
    if (cls) {
        m->n_labels = cls->ndim == 2 ? cls->shape[0] : 0;
        CF_TRY(cf_linear_load(&m->classifier, st, "classifier", last, m->n_labels, true, err));
    }
    return CF_OK;
}

cf_status cf_convnext_load(const cf_safetensors *st, const cf_config *config, cf_convnext **out, cf_error *err)
{
    *out = NULL;
    cf_convnext *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "convnext: cannot allocate the model");
    cf_status s = load_convnext(m, st, config, err);
    if (s != CF_OK) {
        cf_convnext_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

void cf_convnext_free(cf_convnext *m)
{
    if (!m)
        return;
    cf_conv2d_free(&m->stem);
    cf_norm_free(&m->stem_norm);
    for (int64_t i = 0; i < m->n_stages; i++) {
        convnext_stage *s = &m->stages[i];
        cf_norm_free(&s->down_norm);
        cf_conv2d_free(&s->down_conv);
        for (int64_t j = 0; s->blocks && j < s->depth; j++) {
            convnext_block *b = &s->blocks[j];
            cf_conv2d_free(&b->dwconv);
            cf_norm_free(&b->norm);
            cf_linear_free(&b->pw1);
            cf_linear_free(&b->pw2);
            cf_weight_free(&b->layer_scale);
        }
        free(s->blocks);
    }
    cf_norm_free(&m->final_norm);
    cf_linear_free(&m->classifier);
    cf_arena_free(&m->arena);
    free(m);
}

int64_t cf_convnext_num_labels(const cf_convnext *m) { return m->n_labels; }

/* Largest map (floats) over the stem and all stages, and the widest conv scratch. */
static void map_sizes(const cf_convnext *m, int64_t n, int64_t h, int64_t w, int64_t *max_px, size_t *conv)
{
    int64_t oh = h / m->patch, ow = w / m->patch;
    *max_px = n * oh * ow * m->stages[0].dim;
    *conv = cf_conv2d_scratch_bytes(&m->stem, n, h, w);
    for (int64_t i = 0; i < m->n_stages; i++) {
        const convnext_stage *s = &m->stages[i];
        if (s->downsample) {
            size_t b = cf_conv2d_scratch_bytes(&s->down_conv, n, oh, ow);
            *conv = b > *conv ? b : *conv;
            int64_t nh, nw;
            cf_conv2d_out_size(&s->down_conv, oh, ow, &nh, &nw);
            oh = nh;
            ow = nw;
        }
        int64_t px = n * oh * ow * s->dim;
        *max_px = px > *max_px ? px : *max_px;
    }
}

/* Arena: the input, three maps (x, a temporary, the normed rows), the 4x-wide MLP rows, conv
 * scratch and the pooled features. */
static size_t arena_bytes(const cf_convnext *m, int64_t n, int64_t h, int64_t w)
{
    int64_t max_px;
    size_t conv;
    map_sizes(m, n, h, w, &max_px, &conv);
    int64_t last = m->stages[m->n_stages - 1].dim;
    return cf_vision_floats_bytes(n * h * w * m->channels) + 3 * cf_vision_floats_bytes(max_px) +
           cf_vision_floats_bytes(4 * max_px) + conv + 2 * cf_vision_floats_bytes(n * last) + 8 * CF_ARENA_ALIGN;
}

/* x[rows, dim] += layer_scale * pw2(act(pw1(LN(dwconv(x))))). */
static void block_forward(const cf_convnext *m, const convnext_block *b, float *x, int64_t n, int64_t h, int64_t w,
                          float *tmp, float *normed, float *inner, cf_arena *arena)
{
    int64_t rows = n * h * w, dim = b->norm.n;
    cf_conv2d_forward(&b->dwconv, x, n, h, w, tmp, arena);
    cf_norm_forward(&b->norm, tmp, normed, rows);
    cf_linear_forward_act(&b->pw1, normed, rows, inner, m->act);
    cf_linear_forward(&b->pw2, inner, rows, tmp);
    if (b->layer_scale.data)
        for (int64_t r = 0; r < rows; r++)
            cf_mul(tmp + r * dim, b->layer_scale.data, dim);
    cf_add(x, tmp, rows * dim);
}

cf_status cf_convnext_forward(cf_convnext *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                              const cf_vision_tap *tap, float *logits, cf_error *err)
{
    int64_t min_side = m->patch << (m->n_stages - 1);
    CF_TRY(cf_vision_check_input("convnext", n, m->channels, h, w, m->channels, min_side, err));
    CF_TRY(cf_vision_arena_reserve(&m->arena, arena_bytes(m, n, h, w), err));
    cf_arena *a = &m->arena;
    cf_arena_reset(a);
    float *input = cf_arena_floats(a, (size_t)(n * h * w * m->channels));
    cf_nchw_to_nhwc(pixel_values, n, m->channels, h * w, input);
    int64_t max_px;
    size_t conv_scratch;
    map_sizes(m, n, h, w, &max_px, &conv_scratch);
    float *x = cf_arena_floats(a, (size_t)max_px), *tmp = cf_arena_floats(a, (size_t)max_px);
    float *normed = cf_arena_floats(a, (size_t)max_px), *inner = cf_arena_floats(a, (size_t)(4 * max_px));
    int64_t oh = h / m->patch, ow = w / m->patch, dim = m->stages[0].dim;

    cf_conv2d_forward(&m->stem, input, n, h, w, tmp, a);
    cf_norm_forward(&m->stem_norm, tmp, x, n * oh * ow);
    cf_vision_emit_map(tap, "embeddings", x, n, oh, ow, dim);
    for (int64_t i = 0; i < m->n_stages; i++) {
        convnext_stage *s = &m->stages[i];
        if (s->downsample) {
            cf_norm_forward(&s->down_norm, x, normed, n * oh * ow);
            int64_t nh, nw;
            cf_conv2d_out_size(&s->down_conv, oh, ow, &nh, &nw);
            cf_conv2d_forward(&s->down_conv, normed, n, oh, ow, x, a);
            oh = nh;
            ow = nw;
        }
        dim = s->dim;
        for (int64_t j = 0; j < s->depth; j++)
            block_forward(m, &s->blocks[j], x, n, oh, ow, tmp, normed, inner, a);
        char name[64];
        cf_vision_emit_map(tap, cf_vision_name(name, sizeof name, "hidden_states.%lld", (long long)(i + 1)), x, n, oh,
                           ow, dim);
    }
    cf_vision_emit_map(tap, "last_hidden_state", x, n, oh, ow, dim);
    float *pooled = cf_arena_floats(a, (size_t)(n * dim)), *pooled_norm = cf_arena_floats(a, (size_t)(n * dim));
    cf_global_avg_pool(x, n, oh * ow, dim, pooled);
    cf_norm_forward(&m->final_norm, pooled, pooled_norm, n);
    cf_vision_emit(tap, "pooler_output", pooled_norm, n, 1, dim);
    if (m->n_labels > 0 && logits) {
        cf_linear_forward(&m->classifier, pooled_norm, n, logits);
        cf_vision_emit(tap, "logits", logits, n, 1, m->n_labels);
    }
    cf_arena_reset(a);
    return CF_OK;
}
