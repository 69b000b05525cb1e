/* GPT-2 (Radford et al. 2019): learned positions, pre-LayerNorm blocks, Conv1D weights stored
 * in x out, gelu_new MLP, LM head tied to the token embeddings. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "models/causal_lm.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/weights.h"
#include "core/log.h"

typedef struct gpt2_block {
    cf_norm ln_1, ln_2;
    cf_linear c_attn, attn_proj, c_fc, mlp_proj;
} gpt2_block;

typedef struct gpt2 {
    int64_t d, n_head, n_layer, n_inner, vocab, n_positions;
    float eps;
    cf_activation act;
    cf_weight wte, wpe;
    cf_norm ln_f;
    cf_linear lm_head; /* a view of wte */
    gpt2_block *h;
    cf_safetensors *st;
} gpt2;

static void gpt2_free(void *p)
{
    gpt2 *g = p;
    if (!g)
        return;
    for (int64_t l = 0; g->h && l < g->n_layer; l++) {
        gpt2_block *b = &g->h[l];
        cf_norm_free(&b->ln_1);
        cf_norm_free(&b->ln_2);
        cf_linear_free(&b->c_attn);
        cf_linear_free(&b->attn_proj);
        cf_linear_free(&b->c_fc);
        cf_linear_free(&b->mlp_proj);
    }
    free(g->h);
    cf_norm_free(&g->ln_f);
    cf_linear_free(&g->lm_head);
    cf_weight_free(&g->wte);
    cf_weight_free(&g->wpe);
    cf_st_close(g->st);
    free(g);
}

static size_t gpt2_scratch_floats(const void *p, int64_t rows)
{
    const gpt2 *g = p;
    /* x, h, attention out, projection: d each; qkv: 3d; mlp: n_inner */
    return (size_t)rows * (size_t)(7 * g->d + g->n_inner) + 64;
}

static void gpt2_forward(const void *p, const cf_causal_batch *b)
{
    const gpt2 *g = p;
    int64_t R = b->n_seqs * b->T, d = g->d;
    float *x = b->scratch, *h = x + R * d, *attn = h + R * d, *proj = attn + R * d, *qkv = proj + R * d,
          *mlp = qkv + R * 3 * d;
    cf_embedding_gather(g->wte.data, d, b->ids, R, x);
    for (int64_t r = 0; r < R; r++)
        cf_add(x + r * d, g->wpe.data + b->pos[r] * d, d);
    if (b->on_hidden)
        b->on_hidden(b->on_hidden_ctx, 0, x, R, d);
    int64_t head_dim = d / g->n_head;
    for (int64_t l = 0; l < g->n_layer; l++) {
        const gpt2_block *blk = &g->h[l];
        cf_norm_forward(&blk->ln_1, x, h, R);
        cf_linear_forward(&blk->c_attn, h, R, qkv);
        cf_kv_attend_args aa = {.layer = (int)l, .n_seqs = b->n_seqs, .T = b->T, .seqs = b->seqs,
                                .q = qkv, .k = qkv + d, .v = qkv + 2 * d, .q_stride = 3 * d, .kv_stride = 3 * d,
                                .n_heads = (int)g->n_head, .n_kv_heads = (int)g->n_head, .head_dim = (int)head_dim,
                                .scale = 1.0f / sqrtf((float)head_dim), .out = attn, .out_stride = d};
        cf_kv_attend(b->kv, &aa);
        cf_linear_forward(&blk->attn_proj, attn, R, proj);
        cf_add(x, proj, R * d);
        cf_norm_forward(&blk->ln_2, x, h, R);
        cf_linear_forward_act(&blk->c_fc, h, R, mlp, g->act);
        cf_linear_forward(&blk->mlp_proj, mlp, R, proj);
        cf_add(x, proj, R * d);
        if (b->on_hidden && l + 1 < g->n_layer)
            b->on_hidden(b->on_hidden_ctx, (int)l + 1, x, R, d);
    }
    if (b->all_positions) {
        cf_norm_forward(&g->ln_f, x, h, R);
        if (b->on_hidden)
            b->on_hidden(b->on_hidden_ctx, (int)g->n_layer, h, R, d);
        cf_linear_forward(&g->lm_head, h, R, b->logits);
        return;
    }
    for (int64_t s = 0; s < b->n_seqs; s++) /* only each sequence's last position is scored */
        cf_norm_forward(&g->ln_f, x + ((s + 1) * b->T - 1) * d, h + s * d, 1);
    cf_linear_forward(&g->lm_head, h, b->n_seqs, b->logits);
}

/* Keys of config.json that change the architecture in ways this file does not implement. */
static cf_status check_unsupported(const cf_config *c, cf_error *err)
{
    if (cf_config_bool(c, "scale_attn_by_inverse_layer_idx", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"scale_attn_by_inverse_layer_idx\": true is not supported",
                       c->path);
    if (cf_config_bool(c, "reorder_and_upcast_attn", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"reorder_and_upcast_attn\": true is not supported", c->path);
    if (!cf_config_bool(c, "scale_attn_weights", true))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"scale_attn_weights\": false is not supported", c->path);
    if (cf_config_has(c, "add_cross_attention") && cf_config_bool(c, "add_cross_attention", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"add_cross_attention\": true is not supported", c->path);
    return CF_OK;
}

static cf_status read_config(gpt2 *g, const cf_config *c, cf_error *err)
{
    CF_TRY(check_unsupported(c, err));
    CF_TRY(cf_config_require_int(c, "n_embd", &g->d, err));
    CF_TRY(cf_config_require_int(c, "n_head", &g->n_head, err));
    CF_TRY(cf_config_require_int(c, "n_layer", &g->n_layer, err));
    CF_TRY(cf_config_require_int(c, "vocab_size", &g->vocab, err));
    CF_TRY(cf_config_require_int(c, "n_positions", &g->n_positions, err));
    g->n_inner = cf_config_has(c, "n_inner") ? cf_config_int(c, "n_inner", 0) : 4 * g->d;
    double eps;
    CF_TRY(cf_config_float_checked(c, "layer_norm_epsilon", 1e-5, &eps, err));
    g->eps = (float)eps;
    if (g->d <= 0 || g->n_head <= 0 || g->d % g->n_head || g->n_layer <= 0 || g->n_layer > 1000 ||
        g->vocab <= 0 || g->n_positions <= 0 || g->n_inner <= 0)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: inconsistent sizes: n_embd %lld, n_head %lld (must divide n_embd), n_layer %lld, "
                       "vocab_size %lld, n_positions %lld, n_inner %lld",
                       c->path, (long long)g->d, (long long)g->n_head, (long long)g->n_layer, (long long)g->vocab,
                       (long long)g->n_positions, (long long)g->n_inner);
    return cf_activation_parse(cf_config_str(c, "activation_function", "gelu_new"), "activation_function", &g->act,
                               err);
}

/* Checkpoints name tensors with or without the "transformer." prefix. */
static const char *prefix_of(const cf_safetensors *st)
{
    return cf_st_find(st, "transformer.wte.weight") ? "transformer." : "";
}

static cf_status load_block(gpt2 *g, int64_t l, const char *pre, cf_error *err)
{
    gpt2_block *b = &g->h[l];
    char name[256];
    int64_t d = g->d;
#define NAME(suffix) (snprintf(name, sizeof name, "%sh.%lld.%s", pre, (long long)l, suffix), name)
    CF_TRY(cf_norm_load_layer(&b->ln_1, g->st, NAME("ln_1"), d, g->eps, err));
    CF_TRY(cf_norm_load_layer(&b->ln_2, g->st, NAME("ln_2"), d, g->eps, err));
    CF_TRY(cf_linear_load_conv1d(&b->c_attn, g->st, NAME("attn.c_attn"), d, 3 * d, err));
    CF_TRY(cf_linear_load_conv1d(&b->attn_proj, g->st, NAME("attn.c_proj"), d, d, err));
    CF_TRY(cf_linear_load_conv1d(&b->c_fc, g->st, NAME("mlp.c_fc"), d, g->n_inner, err));
    CF_TRY(cf_linear_load_conv1d(&b->mlp_proj, g->st, NAME("mlp.c_proj"), g->n_inner, d, err));
#undef NAME
    return CF_OK;
}

static cf_status load_weights(gpt2 *g, const char *dir, cf_error *err)
{
    CF_TRY(cf_st_open_dir(dir, &g->st, err));
    const char *pre = prefix_of(g->st);
    char name[256];
    snprintf(name, sizeof name, "%swte.weight", pre);
    CF_TRY(cf_weight_load(&g->wte, g->st, name, 2, (int64_t[]){g->vocab, g->d}, err));
    snprintf(name, sizeof name, "%swpe.weight", pre);
    CF_TRY(cf_weight_load(&g->wpe, g->st, name, 2, (int64_t[]){g->n_positions, g->d}, err));
    snprintf(name, sizeof name, "%sln_f", pre);
    CF_TRY(cf_norm_load_layer(&g->ln_f, g->st, name, g->d, g->eps, err));
    g->h = calloc((size_t)g->n_layer, sizeof *g->h);
    if (!g->h)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int64_t l = 0; l < g->n_layer; l++)
        CF_TRY(load_block(g, l, pre, err));
    if (cf_st_find(g->st, "lm_head.weight"))
        cf_log_debug("gpt2: lm_head.weight present; GPT-2 ties it to wte, which is used");
    /* Packed (a copy of wte in f32): the head is a third of every decoding step's reads. */
    return cf_linear_init_view_packed(&g->lm_head, g->wte.data, NULL, g->d, g->vocab, err);
}

cf_status cf_gpt2_load(const cf_config *config, const char *dir, cf_causal_lm *m, cf_error *err)
{
    gpt2 *g = calloc(1, sizeof *g);
    if (!g)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status s = read_config(g, config, err);
    if (s == CF_OK)
        s = load_weights(g, dir, err);
    if (s != CF_OK) {
        gpt2_free(g);
        return s;
    }
    m->weights = g;
    m->free_weights = gpt2_free;
    m->arch = (cf_causal_arch){.name = "gpt2", .n_layers = (int)g->n_layer, .hidden = g->d, .kv_dim = g->d,
                               .vocab = g->vocab, .max_positions = g->n_positions,
                               .scratch_floats = gpt2_scratch_floats, .forward = gpt2_forward};
    return CF_OK;
}
