/* GLPN: a Mix Transformer encoder (SegFormer's: overlapping patch embeddings, efficient
 * self-attention whose keys/values come from a map shrunk by a strided convolution, Mix-FFN with a
 * 3x3 depthwise convolution) over four scales, a decoder that walks the scales back up fusing each
 * with the coarser one through "selective feature fusion", and a head
 *
 *     depth = sigmoid(conv3x3(relu(conv3x3(x)))) * max_depth.
 *
 * Maps stay channels-last, which is also the encoder's token layout. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/vision.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/conv_maps.h"
#include "nn/linear.h"
#include "nn/norm.h"

#define GLPN_BLOCKS 4
#define GLPN_NORM_EPS 1e-5f   /* the encoder's nn.LayerNorm()s use torch's default */
#define GLPN_BN_EPS 1e-5f

typedef struct glpn_layer {
    cf_norm norm1, norm2;
    cf_linear q, k, v, o;
    bool reduce; /* sr_ratio > 1 */
    cf_conv2d sr;
    cf_norm sr_norm;
    cf_linear up, down;
    cf_conv2d dwconv;
} glpn_layer;

typedef struct glpn_block {
    int64_t dim, depth, heads, inner;
    cf_conv2d patch;
    cf_norm patch_norm;
    glpn_layer *layers;
    cf_norm norm;
} glpn_block;

typedef struct glpn_fusion {
    cf_conv2d conv1, conv2, conv3; /* BatchNorms folded into 1 and 2 */
} glpn_fusion;

typedef struct glpn_stage {
    bool has_conv, has_fusion;
    cf_conv2d conv; /* 1x1 to the decoder width */
    glpn_fusion fusion;
} glpn_stage;

struct cf_glpn {
    cf_safetensors *st;
    int64_t channels, dec;
    float max_depth;
    cf_activation act;
    glpn_block blocks[GLPN_BLOCKS];
    glpn_stage stages[GLPN_BLOCKS];
    cf_conv2d head1, head2;
    cf_arena arena;
};

bool cf_glpn_supports(const cf_config *config) { return !strcmp(cf_config_str(config, "model_type", ""), "glpn"); }

static cf_status load_layer(glpn_layer *l, const cf_safetensors *st, const char *p, const glpn_block *b,
                            int64_t sr, cf_error *err)
{
    char n[300];
    int64_t d = b->dim;
    CF_TRY(cf_norm_load_layer(&l->norm1, st, cf_vision_name(n, sizeof n, "%s.layer_norm_1", p), d, GLPN_NORM_EPS, err));
    CF_TRY(cf_norm_load_layer(&l->norm2, st, cf_vision_name(n, sizeof n, "%s.layer_norm_2", p), d, GLPN_NORM_EPS, err));
    CF_TRY(cf_linear_load(&l->q, st, cf_vision_name(n, sizeof n, "%s.attention.self.query", p), d, d, true, err));
    CF_TRY(cf_linear_load(&l->k, st, cf_vision_name(n, sizeof n, "%s.attention.self.key", p), d, d, true, err));
    CF_TRY(cf_linear_load(&l->v, st, cf_vision_name(n, sizeof n, "%s.attention.self.value", p), d, d, true, err));
    CF_TRY(cf_linear_load(&l->o, st, cf_vision_name(n, sizeof n, "%s.attention.output.dense", p), d, d, true, err));
    l->reduce = sr > 1;
    if (l->reduce) {
        cf_conv2d_spec spec = {.in_ch = d, .out_ch = d, .kernel = (int)sr, .stride = (int)sr, .has_bias = true};
        CF_TRY(cf_conv2d_load(&l->sr, st, cf_vision_name(n, sizeof n, "%s.attention.self.sr", p), &spec, err));
        CF_TRY(cf_norm_load_layer(&l->sr_norm, st, cf_vision_name(n, sizeof n, "%s.attention.self.layer_norm", p), d,
                                  GLPN_NORM_EPS, err));
    }
    CF_TRY(cf_linear_load(&l->up, st, cf_vision_name(n, sizeof n, "%s.mlp.dense1", p), d, b->inner, true, err));
    CF_TRY(cf_linear_load(&l->down, st, cf_vision_name(n, sizeof n, "%s.mlp.dense2", p), b->inner, d, true, err));
    cf_conv2d_spec dw = {.in_ch = b->inner, .out_ch = b->inner, .kernel = 3, .stride = 1, .pad = 1, .depthwise = true,
                         .has_bias = true};
    return cf_conv2d_load(&l->dwconv, st, cf_vision_name(n, sizeof n, "%s.mlp.dwconv.dwconv", p), &dw, err);
}

static cf_status load_encoder(cf_glpn *m, const cf_config *cfg, cf_error *err)
{
    int64_t dims[GLPN_BLOCKS], depths[GLPN_BLOCKS], heads[GLPN_BLOCKS], patches[GLPN_BLOCKS], strides[GLPN_BLOCKS],
        srs[GLPN_BLOCKS], ratios[GLPN_BLOCKS];
    if (cf_config_int(cfg, "num_encoder_blocks", GLPN_BLOCKS) != GLPN_BLOCKS)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: num_encoder_blocks must be %d", cfg->path, GLPN_BLOCKS);
    CF_TRY(cf_vision_config_ints(cfg, "hidden_sizes", GLPN_BLOCKS, 1, 1 << 16, dims, err));
    CF_TRY(cf_vision_config_ints(cfg, "depths", GLPN_BLOCKS, 1, 1024, depths, err));
    CF_TRY(cf_vision_config_ints(cfg, "num_attention_heads", GLPN_BLOCKS, 1, 1024, heads, err));
    CF_TRY(cf_vision_config_ints(cfg, "patch_sizes", GLPN_BLOCKS, 1, 64, patches, err));
    CF_TRY(cf_vision_config_ints(cfg, "strides", GLPN_BLOCKS, 1, 64, strides, err));
    CF_TRY(cf_vision_config_ints(cfg, "sr_ratios", GLPN_BLOCKS, 1, 64, srs, err));
    CF_TRY(cf_vision_config_ints(cfg, "mlp_ratios", GLPN_BLOCKS, 1, 64, ratios, err));
    char n[300];
    for (int i = 0; i < GLPN_BLOCKS; i++) {
        glpn_block *b = &m->blocks[i];
        b->dim = dims[i];
        b->depth = depths[i];
        b->heads = heads[i];
        b->inner = dims[i] * ratios[i];
        if (b->dim % b->heads)
            return cf_fail(err, CF_ERR_FORMAT, "%s: hidden_sizes[%d] = %lld is not divisible by %lld heads", cfg->path,
                           i, (long long)b->dim, (long long)b->heads);
        cf_conv2d_spec spec = {.in_ch = i ? dims[i - 1] : m->channels, .out_ch = b->dim, .kernel = (int)patches[i],
                               .stride = (int)strides[i], .pad = (int)patches[i] / 2, .has_bias = true};
        CF_TRY(cf_conv2d_load(&b->patch, m->st, cf_vision_name(n, sizeof n, "glpn.encoder.patch_embeddings.%d.proj", i),
                              &spec, err));
        CF_TRY(cf_norm_load_layer(&b->patch_norm, m->st,
                                  cf_vision_name(n, sizeof n, "glpn.encoder.patch_embeddings.%d.layer_norm", i), b->dim,
                                  GLPN_NORM_EPS, err));
        b->layers = calloc((size_t)b->depth, sizeof *b->layers);
        if (!b->layers)
            return cf_fail(err, CF_ERR_NOMEM, "glpn: cannot allocate %lld layers", (long long)b->depth);
        for (int64_t j = 0; j < b->depth; j++)
            CF_TRY(load_layer(&b->layers[j], m->st,
                              cf_vision_name(n, sizeof n, "glpn.encoder.block.%d.%lld", i, (long long)j), b, srs[i], err));
        CF_TRY(cf_norm_load_layer(&b->norm, m->st, cf_vision_name(n, sizeof n, "glpn.encoder.layer_norm.%d", i), b->dim,
                                  GLPN_NORM_EPS, err));
    }
    return CF_OK;
}

static cf_status load_conv_bn(cf_conv2d *c, const cf_safetensors *st, const char *p, int64_t in, int64_t out,
                              cf_error *err)
{
    char n[300];
    cf_conv2d_spec spec = {.in_ch = in, .out_ch = out, .kernel = 3, .stride = 1, .pad = 1, .has_bias = true};
    CF_TRY(cf_conv2d_load(c, st, cf_vision_name(n, sizeof n, "%s.0", p), &spec, err));
    return cf_conv2d_fold_batchnorm(c, st, cf_vision_name(n, sizeof n, "%s.1", p), GLPN_BN_EPS, err);
}

static cf_status load_decoder(cf_glpn *m, cf_error *err)
{
    char n[300];
    int64_t d = m->dec;
    for (int k = 0; k < GLPN_BLOCKS; k++) {
        glpn_stage *s = &m->stages[k];
        int64_t in = m->blocks[GLPN_BLOCKS - 1 - k].dim;
        s->has_conv = in != d;
        if (s->has_conv) {
            cf_conv2d_spec spec = {.in_ch = in, .out_ch = d, .kernel = 1, .stride = 1, .has_bias = true};
            CF_TRY(cf_conv2d_load(&s->conv, m->st, cf_vision_name(n, sizeof n, "decoder.stages.%d.convolution", k), &spec,
                                  err));
        }
        s->has_fusion = k > 0; /* the first stage has nothing coarser to fuse */
        if (!s->has_fusion)
            continue;
        CF_TRY(load_conv_bn(&s->fusion.conv1, m->st,
                            cf_vision_name(n, sizeof n, "decoder.stages.%d.fusion.convolutional_layer1", k), 2 * d, d, err));
        CF_TRY(load_conv_bn(&s->fusion.conv2, m->st,
                            cf_vision_name(n, sizeof n, "decoder.stages.%d.fusion.convolutional_layer2", k), d, d / 2, err));
        cf_conv2d_spec spec = {.in_ch = d / 2, .out_ch = 2, .kernel = 3, .stride = 1, .pad = 1, .has_bias = true};
        CF_TRY(cf_conv2d_load(&s->fusion.conv3, m->st,
                              cf_vision_name(n, sizeof n, "decoder.stages.%d.fusion.convolutional_layer3", k), &spec, err));
    }
    cf_conv2d_spec h1 = {.in_ch = d, .out_ch = d, .kernel = 3, .stride = 1, .pad = 1, .has_bias = true};
    cf_conv2d_spec h2 = {.in_ch = d, .out_ch = 1, .kernel = 3, .stride = 1, .pad = 1, .has_bias = true};
    CF_TRY(cf_conv2d_load(&m->head1, m->st, "head.head.0", &h1, err));
    return cf_conv2d_load(&m->head2, m->st, "head.head.2", &h2, err);
}

static cf_status load_glpn(cf_glpn *m, const char *dir, const cf_config *cfg, cf_error *err)
{
    CF_TRY(cf_config_int_in_or(cfg, "num_channels", 3, 1, 64, &m->channels, err));
    CF_TRY(cf_config_int_in(cfg, "decoder_hidden_size", 2, 1 << 16, &m->dec, err));
    m->max_depth = (float)cf_config_float(cfg, "max_depth", 10.0);
    if (cf_config_int(cfg, "head_in_index", -1) != -1)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: head_in_index other than -1 is not supported", cfg->path);
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "hidden_act", "gelu"), "hidden_act", &m->act, err));
    CF_TRY(cf_st_open_dir(dir, &m->st, err));
    CF_TRY(load_encoder(m, cfg, err));
    return load_decoder(m, err);
}

cf_status cf_glpn_load(const char *dir, const cf_config *config, cf_glpn **out, cf_error *err)
{
    *out = NULL;
    cf_glpn *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "glpn: cannot allocate the model");
    cf_status s = load_glpn(m, dir, config, err);
    if (s != CF_OK) {
        cf_glpn_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

static void free_layer(glpn_layer *l)
{
    cf_norm_free(&l->norm1);
    cf_norm_free(&l->norm2);
    cf_linear_free(&l->q);
    cf_linear_free(&l->k);
    cf_linear_free(&l->v);
    cf_linear_free(&l->o);
    cf_conv2d_free(&l->sr);
    cf_norm_free(&l->sr_norm);
    cf_linear_free(&l->up);
    cf_linear_free(&l->down);
    cf_conv2d_free(&l->dwconv);
}

void cf_glpn_free(cf_glpn *m)
{
    if (!m)
        return;
    for (int i = 0; i < GLPN_BLOCKS; i++) {
        glpn_block *b = &m->blocks[i];
        cf_conv2d_free(&b->patch);
        cf_norm_free(&b->patch_norm);
        for (int64_t j = 0; b->layers && j < b->depth; j++)
            free_layer(&b->layers[j]);
        free(b->layers);
        cf_norm_free(&b->norm);
        glpn_stage *s = &m->stages[i];
        cf_conv2d_free(&s->conv);
        cf_conv2d_free(&s->fusion.conv1);
        cf_conv2d_free(&s->fusion.conv2);
        cf_conv2d_free(&s->fusion.conv3);
    }
    cf_conv2d_free(&m->head1);
    cf_conv2d_free(&m->head2);
    cf_arena_free(&m->arena);
    cf_st_close(m->st);
    free(m);
}

int64_t cf_glpn_size_multiple(const cf_glpn *m)
{
    int64_t s = 1;
    for (int i = 0; i < GLPN_BLOCKS; i++)
        s *= m->blocks[i].patch.stride;
    return s;
}

/* ------------------------------------------------------------------ forward ---- */

typedef struct glpn_sizes {
    int64_t h[GLPN_BLOCKS], w[GLPN_BLOCKS];
} glpn_sizes;

static bool encoder_sizes(const cf_glpn *m, int64_t h, int64_t w, glpn_sizes *s)
{
    for (int i = 0; i < GLPN_BLOCKS; i++) {
        if (!cf_conv2d_out_size(&m->blocks[i].patch, h, w, &s->h[i], &s->w[i]))
            return false;
        h = s->h[i];
        w = s->w[i];
    }
    /* the decoder doubles each scale back to the next finer one */
    for (int i = 0; i + 1 < GLPN_BLOCKS; i++)
        if (s->h[i] != 2 * s->h[i + 1] || s->w[i] != 2 * s->w[i + 1])
            return false;
    return true;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static size_t arena_bytes(const cf_glpn *m, int64_t n, int64_t h, int64_t w, const glpn_sizes *s)
{
    size_t total = cf_vision_floats_bytes(n * h * w * m->channels), work = 0;
    for (int i = 0; i < GLPN_BLOCKS; i++) {
        const glpn_block *b = &m->blocks[i];
        int64_t t = n * s->h[i] * s->w[i];
        total += cf_vision_floats_bytes(t * b->dim); /* kept for the decoder */
        int64_t in_h = i ? s->h[i - 1] : h, in_w = i ? s->w[i - 1] : w;
        size_t conv = cf_conv2d_scratch_bytes(&b->patch, n, in_h, in_w);
        if (b->layers[0].reduce)
            conv = max_size(conv, cf_conv2d_scratch_bytes(&b->layers[0].sr, n, s->h[i], s->w[i]));
        work = max_size(work, 6 * cf_vision_floats_bytes(t * b->dim) + 2 * cf_vision_floats_bytes(t * b->inner) + conv);
    }
    int64_t full = n * h * w * m->dec;
    size_t conv = 0;
    for (int k = 1; k < GLPN_BLOCKS; k++) {
        int64_t fh = s->h[GLPN_BLOCKS - 1 - k], fw = s->w[GLPN_BLOCKS - 1 - k];
        conv = max_size(conv, cf_conv2d_scratch_bytes(&m->stages[k].fusion.conv1, n, fh, fw));
    }
    conv = max_size(conv, cf_conv2d_scratch_bytes(&m->head1, n, h, w));
    size_t dec = 6 * cf_vision_floats_bytes(full) + conv;
    return total + max_size(work, dec) + 32 * CF_ARENA_ALIGN;
}

/* Efficient self-attention: keys and values from the map shrunk sr x sr (then normed). */
static void attention(const glpn_layer *l, const glpn_block *b, const float *x, int64_t n, int64_t h, int64_t w,
                      float *out, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t t = h * w, d = b->dim, kv_t = t;
    float *q = cf_arena_floats(a, (size_t)(n * t * d)), *ctx = cf_arena_floats(a, (size_t)(n * t * d));
    cf_linear_forward(&l->q, x, n * t, q);
    const float *src = x;
    if (l->reduce) {
        int64_t rh, rw;
        cf_conv2d_out_size(&l->sr, h, w, &rh, &rw);
        kv_t = rh * rw;
        float *reduced = cf_arena_floats(a, (size_t)(n * kv_t * d)), *normed = cf_arena_floats(a, (size_t)(n * kv_t * d));
        cf_conv2d_forward(&l->sr, x, n, h, w, reduced, a);
        cf_norm_forward(&l->sr_norm, reduced, normed, n * kv_t);
        src = normed;
    }
    float *k = cf_arena_floats(a, (size_t)(n * kv_t * d)), *v = cf_arena_floats(a, (size_t)(n * kv_t * d));
    cf_linear_forward(&l->k, src, n * kv_t, k);
    cf_linear_forward(&l->v, src, n * kv_t, v);
    int hd = (int)(d / b->heads);
    for (int64_t i = 0; i < n; i++) {
        cf_attn_args args = {.n_q = t, .n_kv = kv_t, .n_heads = (int)b->heads, .n_kv_heads = (int)b->heads,
                             .head_dim = hd, .q = q + i * t * d, .q_stride = d, .k = k + i * kv_t * d, .k_stride = d,
                             .v = v + i * kv_t * d, .v_stride = d, .out = ctx + i * t * d, .out_stride = d,
                             .scale = 1.0f / sqrtf((float)hd)};
        cf_attention_f32(&args);
    }
    cf_linear_forward(&l->o, ctx, n * t, out);
    cf_arena_rewind(a, mark);
}

/* Mix-FFN: dense2(act(dwconv3x3(dense1(x)))). */
static void mix_ffn(const cf_glpn *m, const glpn_layer *l, const glpn_block *b, const float *x, int64_t n, int64_t h,
                    int64_t w, float *out, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t t = n * h * w;
    float *up = cf_arena_floats(a, (size_t)(t * b->inner)), *mixed = cf_arena_floats(a, (size_t)(t * b->inner));
    cf_linear_forward(&l->up, x, t, up);
    cf_conv2d_forward(&l->dwconv, up, n, h, w, mixed, a);
    cf_activation_apply(m->act, mixed, t * b->inner);
    cf_linear_forward(&l->down, mixed, t, out);
    cf_arena_rewind(a, mark);
}

/* One encoder block: patch embedding + LN, layers, LN; out[n, h*w, dim]. */
static void encoder_block(const cf_glpn *m, const glpn_block *b, const float *in, int64_t n, int64_t in_h,
                          int64_t in_w, int64_t h, int64_t w, float *out, cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t t = n * h * w, d = b->dim;
    float *x = cf_arena_floats(a, (size_t)(t * d)), *normed = cf_arena_floats(a, (size_t)(t * d));
    float *sub = cf_arena_floats(a, (size_t)(t * d));
    cf_conv2d_forward(&b->patch, in, n, in_h, in_w, sub, a);
    cf_norm_forward(&b->patch_norm, sub, x, t);
    for (int64_t j = 0; j < b->depth; j++) {
        const glpn_layer *l = &b->layers[j];
        cf_norm_forward(&l->norm1, x, normed, t);
        attention(l, b, normed, n, h, w, sub, a);
        cf_add(x, sub, t * d);
        cf_norm_forward(&l->norm2, x, normed, t);
        mix_ffn(m, l, b, normed, n, h, w, sub, a);
        cf_add(x, sub, t * d);
    }
    cf_norm_forward(&b->norm, x, out, t);
    cf_arena_rewind(a, mark);
}

static void upsample2x(const float *x, int64_t n, int64_t h, int64_t w, int64_t c, float *y)
{
    for (int64_t i = 0; i < n; i++)
        cf_interpolate(x + i * h * w * c, h, w, c, y + i * 4 * h * w * c, 2 * h, 2 * w, CF_INTERP_BILINEAR, 2.0, 2.0);
}

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* Selective feature fusion: local * a0 + global * a1, a = sigmoid(conv3(relu(bn(conv2(relu(bn(conv1([local,
 * global])))))))). Result in local. */
static void fuse(const glpn_fusion *f, float *local, const float *global, int64_t n, int64_t h, int64_t w, int64_t d,
                 cf_arena *a)
{
    size_t mark = cf_arena_mark(a);
    int64_t px = n * h * w;
    float *cat = cf_arena_floats(a, (size_t)(px * 2 * d)), *t1 = cf_arena_floats(a, (size_t)(px * d));
    float *t2 = cf_arena_floats(a, (size_t)(px * d)), *att = cf_arena_floats(a, (size_t)(px * 2));
    for (int64_t p = 0; p < px; p++) {
        memcpy(cat + p * 2 * d, local + p * d, (size_t)d * sizeof(float));
        memcpy(cat + p * 2 * d + d, global + p * d, (size_t)d * sizeof(float));
    }
    cf_conv2d_forward(&f->conv1, cat, n, h, w, t1, a);
    cf_relu(t1, px * d);
    cf_conv2d_forward(&f->conv2, t1, n, h, w, t2, a);
    cf_relu(t2, px * (d / 2));
    cf_conv2d_forward(&f->conv3, t2, n, h, w, att, a);
    for (int64_t p = 0; p < px; p++) {
        float a0 = sigmoidf(att[2 * p]), a1 = sigmoidf(att[2 * p + 1]);
        for (int64_t c = 0; c < d; c++)
            local[p * d + c] = local[p * d + c] * a0 + global[p * d + c] * a1;
    }
    cf_arena_rewind(a, mark);
}

/* Decoder + head: from the four encoder maps to depth[n, h, w]. */
static void decode(cf_glpn *m, float *const *feats, const glpn_sizes *s, int64_t n, int64_t h, int64_t w,
                   float *depth, cf_arena *a)
{
    int64_t d = m->dec;
    float *prev = NULL; /* the previous stage's output, at this stage's scale */
    int64_t fh = 0, fw = 0;
    for (int k = 0; k < GLPN_BLOCKS; k++) {
        int i = GLPN_BLOCKS - 1 - k;
        const glpn_stage *st = &m->stages[k];
        fh = s->h[i];
        fw = s->w[i];
        int64_t px = n * fh * fw;
        float *local = cf_arena_floats(a, (size_t)(px * d));
        if (st->has_conv)
            cf_conv2d_forward(&st->conv, feats[i], n, fh, fw, local, a);
        else
            memcpy(local, feats[i], (size_t)(px * d) * sizeof(float));
        if (st->has_fusion && prev)
            fuse(&st->fusion, local, prev, n, fh, fw, d, a);
        float *up = cf_arena_floats(a, (size_t)(4 * px * d));
        upsample2x(local, n, fh, fw, d, up);
        prev = up;
    }
    fh *= 2;
    fw *= 2;
    float *full = cf_arena_floats(a, (size_t)(n * h * w * d)), *hidden = cf_arena_floats(a, (size_t)(n * h * w * d));
    upsample2x(prev, n, fh, fw, d, full);
    cf_conv2d_forward(&m->head1, full, n, h, w, hidden, a);
    cf_relu(hidden, n * h * w * d);
    cf_conv2d_forward(&m->head2, hidden, n, h, w, depth, a);
    for (int64_t p = 0; p < n * h * w; p++)
        depth[p] = sigmoidf(depth[p]) * m->max_depth;
}

cf_status cf_glpn_forward(cf_glpn *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                          const cf_vision_tap *tap, float *depth, cf_error *err)
{
    int64_t mult = cf_glpn_size_multiple(m);
    CF_TRY(cf_vision_check_input("glpn", n, m->channels, h, w, m->channels, mult, err));
    glpn_sizes s;
    if (h % mult || w % mult || !encoder_sizes(m, h, w, &s))
        return cf_fail(err, CF_ERR_SHAPE, "glpn: image of %lldx%lld pixels: both sides must be multiples of %lld",
                       (long long)h, (long long)w, (long long)mult);
    CF_TRY(cf_vision_arena_reserve(&m->arena, arena_bytes(m, n, h, w, &s), err));
    cf_arena *a = &m->arena;
    cf_arena_reset(a);
    float *input = cf_arena_floats(a, (size_t)(n * h * w * m->channels));
    cf_nchw_to_nhwc(pixel_values, n, m->channels, h * w, input);
    float *feats[GLPN_BLOCKS];
    const float *in = input;
    int64_t in_h = h, in_w = w;
    for (int i = 0; i < GLPN_BLOCKS; i++) {
        feats[i] = cf_arena_floats(a, (size_t)(n * s.h[i] * s.w[i] * m->blocks[i].dim));
        encoder_block(m, &m->blocks[i], in, n, in_h, in_w, s.h[i], s.w[i], feats[i], a);
        char name[64];
        cf_vision_emit_map(tap, cf_vision_name(name, sizeof name, "encoder_hidden_states.%d", i), feats[i], n, s.h[i],
                           s.w[i], m->blocks[i].dim);
        in = feats[i];
        in_h = s.h[i];
        in_w = s.w[i];
    }
    decode(m, feats, &s, n, h, w, depth, a);
    cf_vision_emit(tap, "predicted_depth", depth, n, h, w);
    cf_arena_reset(a);
    return CF_OK;
}
