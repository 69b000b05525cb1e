#include "models/resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/vision.h"
#include "nn/conv.h"
#include "nn/conv_maps.h"

#define RESNET_MAX_CONVS 3

typedef struct resnet_block {
    int n_convs; /* 2 basic, 3 bottleneck; ReLU after each but the last */
    cf_conv2d convs[RESNET_MAX_CONVS];
    bool has_shortcut;
    cf_conv2d shortcut;
} resnet_block;

typedef struct resnet_stage {
    int64_t depth, channels;
    resnet_block *blocks;
} resnet_stage;

struct cf_resnet {
    cf_conv2d stem;
    int n_stages;
    resnet_stage stages[CF_RESNET_MAX_STAGES];
};

/* Tensor names of one block's pieces under either naming. */
static void conv_names(const cf_resnet_options *o, const char *p, int s, int64_t b, int k, char *conv, char *bn,
                       size_t size)
{
    if (o->timm_names) {
        snprintf(conv, size, "%slayer%d.%lld.conv%d", p, s + 1, (long long)b, k + 1);
        snprintf(bn, size, "%slayer%d.%lld.bn%d", p, s + 1, (long long)b, k + 1);
    } else {
        snprintf(conv, size, "%sencoder.stages.%d.layers.%lld.layer.%d.convolution", p, s, (long long)b, k);
        snprintf(bn, size, "%sencoder.stages.%d.layers.%lld.layer.%d.normalization", p, s, (long long)b, k);
    }
}

static void shortcut_names(const cf_resnet_options *o, const char *p, int s, int64_t b, char *conv, char *bn,
                           size_t size)
{
    if (o->timm_names) {
        snprintf(conv, size, "%slayer%d.%lld.downsample.0", p, s + 1, (long long)b);
        snprintf(bn, size, "%slayer%d.%lld.downsample.1", p, s + 1, (long long)b);
    } else {
        snprintf(conv, size, "%sencoder.stages.%d.layers.%lld.shortcut.convolution", p, s, (long long)b);
        snprintf(bn, size, "%sencoder.stages.%d.layers.%lld.shortcut.normalization", p, s, (long long)b);
    }
}

/* The [out, in, k, k] weight of `conv`, or NULL. */
static const cf_tensor *conv_weight(const cf_safetensors *st, const char *conv)
{
    char name[512];
    snprintf(name, sizeof name, "%s.weight", conv);
    const cf_tensor *t = cf_st_find(st, name);
    return t && t->ndim == 4 && t->shape[2] == t->shape[3] ? t : NULL;
}

/* A bias-free convolution with its frozen BatchNorm folded in; kernel size from the weight. */
static cf_status load_conv_bn(cf_conv2d *c, const cf_safetensors *st, const char *conv, const char *bn,
                              int64_t in_ch, int stride, float eps, cf_error *err)
{
    const cf_tensor *t = conv_weight(st, conv);
    if (!t)
        return cf_fail(err, CF_ERR_NOT_FOUND, "resnet backbone: missing 4-d tensor '%s.weight'", conv);
    if (t->shape[1] != in_ch || t->shape[0] < 1 || t->shape[2] > 15)
        return cf_fail(err, CF_ERR_SHAPE, "resnet backbone: '%s.weight' has %lld input channels, expected %lld", conv,
                       (long long)t->shape[1], (long long)in_ch);
    int k = (int)t->shape[2];
    cf_conv2d_spec spec = {.in_ch = in_ch, .out_ch = t->shape[0], .kernel = k, .stride = stride, .pad = k / 2};
    CF_TRY(cf_conv2d_load(c, st, conv, &spec, err));
    return cf_conv2d_fold_batchnorm(c, st, bn, eps, err);
}

static cf_status load_block(resnet_block *blk, const cf_safetensors *st, const char *p, const cf_resnet_options *o,
                            int s, int64_t b, int64_t in_ch, int stride, cf_error *err)
{
    char conv[512], bn[512];
    conv_names(o, p, s, b, 2, conv, bn, sizeof conv);
    blk->n_convs = conv_weight(st, conv) ? 3 : 2;
    /* the stride sits on the first spatial conv (on the first 1x1 when asked) */
    int stride_at = 0;
    if (!(o->downsample_in_bottleneck && blk->n_convs == 3))
        for (int k = 0; k < blk->n_convs; k++) {
            conv_names(o, p, s, b, k, conv, bn, sizeof conv);
            const cf_tensor *t = conv_weight(st, conv);
            if (t && t->shape[2] > 1) {
                stride_at = k;
                break;
            }
        }
    int64_t ch = in_ch;
    for (int k = 0; k < blk->n_convs; k++) {
        conv_names(o, p, s, b, k, conv, bn, sizeof conv);
        CF_TRY(load_conv_bn(&blk->convs[k], st, conv, bn, ch, k == stride_at ? stride : 1, o->bn_eps, err));
        ch = blk->convs[k].out_ch;
    }
    shortcut_names(o, p, s, b, conv, bn, sizeof conv);
    blk->has_shortcut = conv_weight(st, conv) != NULL;
    if (blk->has_shortcut)
        CF_TRY(load_conv_bn(&blk->shortcut, st, conv, bn, in_ch, stride, o->bn_eps, err));
    else if (in_ch != ch || stride != 1)
        return cf_fail(err, CF_ERR_NOT_FOUND, "resnet backbone: block '%s' changes shape but has no shortcut weights",
                       conv);
    return CF_OK;
}

static cf_status load_resnet(cf_resnet *r, const cf_safetensors *st, const char *p, const cf_resnet_options *o,
                             cf_error *err)
{
    char conv[512], bn[512];
    if (o->timm_names) {
        snprintf(conv, sizeof conv, "%sconv1", p);
        snprintf(bn, sizeof bn, "%sbn1", p);
    } else {
        snprintf(conv, sizeof conv, "%sembedder.embedder.convolution", p);
        snprintf(bn, sizeof bn, "%sembedder.embedder.normalization", p);
    }
    CF_TRY(load_conv_bn(&r->stem, st, conv, bn, 3, 2, o->bn_eps, err));
    int64_t ch = r->stem.out_ch;
    for (int s = 0; s < CF_RESNET_MAX_STAGES; s++) {
        int64_t depth = 0;
        for (;; depth++) {
            conv_names(o, p, s, depth, 0, conv, bn, sizeof conv);
            if (!conv_weight(st, conv))
                break;
        }
        if (depth == 0)
            break;
        resnet_stage *stage = &r->stages[s];
        stage->blocks = calloc((size_t)depth, sizeof *stage->blocks);
        if (!stage->blocks)
            return cf_fail(err, CF_ERR_NOMEM, "resnet backbone: cannot allocate %lld blocks", (long long)depth);
        stage->depth = depth;
        r->n_stages = s + 1;
        int stride = s == 0 && !o->downsample_in_first_stage ? 1 : 2;
        for (int64_t b = 0; b < depth; b++) {
            CF_TRY(load_block(&stage->blocks[b], st, p, o, s, b, ch, b == 0 ? stride : 1, err));
            resnet_block *blk = &stage->blocks[b];
            ch = blk->convs[blk->n_convs - 1].out_ch;
        }
        stage->channels = ch;
    }
    if (r->n_stages == 0)
        return cf_fail(err, CF_ERR_NOT_FOUND, "resnet backbone: no stages found under '%s'", p);
    return CF_OK;
}

cf_status cf_resnet_load(const cf_safetensors *st, const char *prefix, const cf_resnet_options *opt, cf_resnet **out,
                         cf_error *err)
{
    *out = NULL;
    cf_resnet *r = calloc(1, sizeof *r);
    if (!r)
        return cf_fail(err, CF_ERR_NOMEM, "resnet backbone: cannot allocate");
    cf_status s = load_resnet(r, st, prefix, opt, err);
    if (s != CF_OK) {
        cf_resnet_free(r);
        return s;
    }
    *out = r;
    return CF_OK;
}

void cf_resnet_free(cf_resnet *r)
{
    if (!r)
        return;
    cf_conv2d_free(&r->stem);
    for (int s = 0; s < r->n_stages; s++) {
        for (int64_t b = 0; r->stages[s].blocks && b < r->stages[s].depth; b++) {
            resnet_block *blk = &r->stages[s].blocks[b];
            for (int k = 0; k < blk->n_convs; k++)
                cf_conv2d_free(&blk->convs[k]);
            cf_conv2d_free(&blk->shortcut);
        }
        free(r->stages[s].blocks);
    }
    free(r);
}

int cf_resnet_num_stages(const cf_resnet *r) { return r->n_stages; }
int64_t cf_resnet_stage_channels(const cf_resnet *r, int stage) { return r->stages[stage].channels; }

static void pool_size(int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
    *oh = (h + 2 - 3) / 2 + 1;
    *ow = (w + 2 - 3) / 2 + 1;
}

/* Size after a block: its strided conv (or shortcut) decides. */
static void block_size(const resnet_block *blk, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
    *oh = h;
    *ow = w;
    for (int k = 0; k < blk->n_convs; k++)
        cf_conv2d_out_size(&blk->convs[k], *oh, *ow, oh, ow);
}

bool cf_resnet_stage_size(const cf_resnet *r, int stage, int64_t h, int64_t w, int64_t *oh, int64_t *ow)
{
    if (!cf_conv2d_out_size(&r->stem, h, w, oh, ow) || *oh < 2 || *ow < 2)
        return false;
    pool_size(*oh, *ow, oh, ow);
    for (int s = 0; s <= stage; s++)
        for (int64_t b = 0; b < r->stages[s].depth; b++) {
            if (*oh < 1 || *ow < 1)
                return false;
            block_size(&r->stages[s].blocks[b], *oh, *ow, oh, ow);
        }
    return *oh >= 1 && *ow >= 1;
}

/* Largest map (floats per image) anywhere in the network, and the largest conv scratch. */
static void max_sizes(const cf_resnet *r, int64_t n, int64_t h, int64_t w, int64_t *max_px, size_t *conv)
{
    int64_t oh, ow;
    cf_conv2d_out_size(&r->stem, h, w, &oh, &ow);
    *max_px = oh * ow * r->stem.out_ch;
    *conv = cf_conv2d_scratch_bytes(&r->stem, n, h, w);
    pool_size(oh, ow, &oh, &ow);
    for (int s = 0; s < r->n_stages; s++)
        for (int64_t b = 0; b < r->stages[s].depth; b++) {
            const resnet_block *blk = &r->stages[s].blocks[b];
            int64_t ch = oh, cw = ow;
            for (int k = 0; k < blk->n_convs; k++) {
                size_t sc = cf_conv2d_scratch_bytes(&blk->convs[k], n, ch, cw);
                *conv = sc > *conv ? sc : *conv;
                int64_t in_px = ch * cw * blk->convs[k].in_ch;
                *max_px = in_px > *max_px ? in_px : *max_px;
                cf_conv2d_out_size(&blk->convs[k], ch, cw, &ch, &cw);
                int64_t px = ch * cw * blk->convs[k].out_ch;
                *max_px = px > *max_px ? px : *max_px;
            }
            oh = ch;
            ow = cw;
        }
}

size_t cf_resnet_scratch_bytes(const cf_resnet *r, int64_t n, int64_t h, int64_t w)
{
    int64_t max_px;
    size_t conv;
    max_sizes(r, n, h, w, &max_px, &conv);
    return 4 * cf_vision_floats_bytes(n * max_px) + conv + 8 * CF_ARENA_ALIGN;
}

/* out = relu(convs(x) + shortcut(x)); t0/t1 are scratch maps. */
static void block_forward(const resnet_block *blk, const float *x, int64_t n, int64_t h, int64_t w, float *out,
                          float *t0, float *t1, cf_arena *a)
{
    const float *cur = x;
    int64_t ch = h, cw = w;
    float *bufs[2] = {t0, t1};
    for (int k = 0; k < blk->n_convs; k++) {
        float *dst = k == blk->n_convs - 1 ? out : bufs[k % 2];
        cf_conv2d_forward(&blk->convs[k], cur, n, ch, cw, dst, a);
        cf_conv2d_out_size(&blk->convs[k], ch, cw, &ch, &cw);
        if (k < blk->n_convs - 1)
            cf_relu(dst, n * ch * cw * blk->convs[k].out_ch);
        cur = dst;
    }
    int64_t count = n * ch * cw * blk->convs[blk->n_convs - 1].out_ch;
    if (blk->has_shortcut) {
        cf_conv2d_forward(&blk->shortcut, x, n, h, w, t0, a);
        cf_add(out, t0, count);
    } else {
        cf_add(out, x, count);
    }
    cf_relu(out, count);
}

void cf_resnet_forward(const cf_resnet *r, const float *x, int64_t n, int64_t h, int64_t w, float *const *stage_out,
                       cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t max_px;
    size_t conv;
    max_sizes(r, n, h, w, &max_px, &conv);
    float *bufs[4];
    for (int i = 0; i < 4; i++)
        bufs[i] = cf_arena_floats(scratch, (size_t)(n * max_px));
    int64_t oh, ow;
    cf_conv2d_forward(&r->stem, x, n, h, w, bufs[0], scratch);
    cf_conv2d_out_size(&r->stem, h, w, &oh, &ow);
    cf_relu(bufs[0], n * oh * ow * r->stem.out_ch);
    int64_t ph, pw;
    pool_size(oh, ow, &ph, &pw);
    cf_max_pool2d(bufs[0], n, oh, ow, r->stem.out_ch, 3, 2, 1, bufs[1], ph, pw);
    const float *cur = bufs[1];
    oh = ph;
    ow = pw;
    for (int s = 0; s < r->n_stages; s++) {
        const resnet_stage *stage = &r->stages[s];
        for (int64_t b = 0; b < stage->depth; b++) {
            const resnet_block *blk = &stage->blocks[b];
            float *out = b == stage->depth - 1 ? stage_out[s] : cur == bufs[0] ? bufs[1] : bufs[0];
            block_forward(blk, cur, n, oh, ow, out, bufs[2], bufs[3], scratch);
            block_size(blk, oh, ow, &oh, &ow);
            cur = out;
        }
    }
    cf_arena_rewind(scratch, mark);
}
