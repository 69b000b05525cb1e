#include "nn/decoder_layer.h"

#include <math.h>
#include <stdio.h>

#include "kernels/kernels.h"

cf_status cf_decoder_layer_load(cf_decoder_layer *l, const cf_safetensors *st, const char *prefix,
                                const cf_decoder_layer_spec *spec, cf_error *err)
{
    *l = (cf_decoder_layer){.pre_norm = spec->pre_norm};
    char a[512], b[512];
    int64_t d = spec->hidden;
#define NAME(buf, part) (snprintf(buf, sizeof buf, "%s.%s", prefix, part), buf)
    cf_status s = cf_mha_load(&l->self_attn, st, NAME(a, "self_attn"), d, spec->n_heads, spec->k_bias, err);
    if (s == CF_OK)
        s = cf_mha_load(&l->cross_attn, st, NAME(a, "encoder_attn"), d, spec->n_heads, spec->k_bias, err);
    if (s == CF_OK)
        s = cf_norm_load_layer(&l->self_norm, st, NAME(a, "self_attn_layer_norm"), d, spec->eps, err);
    if (s == CF_OK)
        s = cf_norm_load_layer(&l->cross_norm, st, NAME(a, "encoder_attn_layer_norm"), d, spec->eps, err);
    if (s == CF_OK)
        s = cf_norm_load_layer(&l->ffn_norm, st, NAME(a, "final_layer_norm"), d, spec->eps, err);
    if (s == CF_OK)
        s = cf_ffn_load(&l->ffn, st, NAME(a, "fc1"), NAME(b, "fc2"), d, spec->ffn_dim, spec->act, err);
#undef NAME
    if (s != CF_OK)
        cf_decoder_layer_free(l);
    return s;
}

void cf_decoder_layer_free(cf_decoder_layer *l)
{
    cf_mha_free(&l->self_attn);
    cf_mha_free(&l->cross_attn);
    cf_norm_free(&l->self_norm);
    cf_norm_free(&l->cross_norm);
    cf_norm_free(&l->ffn_norm);
    cf_ffn_free(&l->ffn);
}

void cf_decoder_layer_project_memory(const cf_decoder_layer *l, const float *memory, int64_t n, float *k, float *v)
{
    cf_mha_project_kv(&l->cross_attn, memory, n, k, v);
}

static size_t rows_bytes(int64_t rows, int64_t n)
{
    size_t b = (size_t)rows * (size_t)n * sizeof(float);
    return (b + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

size_t cf_decoder_layer_scratch_bytes(const cf_decoder_layer *l, int64_t rows)
{
    size_t attn = cf_mha_scratch_bytes(&l->self_attn, rows), ffn = cf_ffn_scratch_bytes(&l->ffn, rows);
    return 2 * rows_bytes(rows, l->self_attn.hidden) + (attn > ffn ? attn : ffn);
}

/* Queries of every row block against its own memory; Q and output projections batched. */
static void cross_attend(const cf_mha *a, int64_t n_seqs, int64_t T, const cf_cross_memory *memory, const float *x,
                         float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t h = a->hidden, rows = n_seqs * T;
    float *q = cf_arena_floats(scratch, (size_t)(rows * h)), *ctx = cf_arena_floats(scratch, (size_t)(rows * h));
    cf_linear_forward(&a->q, x, rows, q);
    for (int64_t b = 0; b < n_seqs; b++) {
        cf_attn_args args = {.n_q = T, .n_kv = memory[b].n, .n_heads = a->n_heads, .n_kv_heads = a->n_heads,
                             .head_dim = a->head_dim, .q = q + b * T * h, .q_stride = h, .k = memory[b].k,
                             .k_stride = h, .v = memory[b].v, .v_stride = h, .out = ctx + b * T * h,
                             .out_stride = h, .scale = 1.0f / sqrtf((float)a->head_dim)};
        cf_attention_f32(&args);
    }
    cf_linear_forward(&a->o, ctx, rows, y);
    cf_arena_rewind(scratch, mark);
}

typedef struct sublayer_ctx {
    const cf_decoder_layer *l;
    int layer;
    cf_kv_cache *kv;
    const int64_t *seqs;
    int64_t n_seqs, T;
    const cf_cross_memory *memory;
} sublayer_ctx;

enum { SUB_SELF, SUB_CROSS, SUB_FFN };

static void run_sublayer(const sublayer_ctx *c, int which, const float *in, float *out, cf_arena *a)
{
    int64_t rows = c->n_seqs * c->T;
    switch (which) {
    case SUB_SELF: cf_mha_cached_forward(&c->l->self_attn, c->kv, c->layer, c->seqs, c->n_seqs, c->T, in, out, a); break;
    case SUB_CROSS: cross_attend(&c->l->cross_attn, c->n_seqs, c->T, c->memory, in, out, a); break;
    default: cf_ffn_forward(&c->l->ffn, in, rows, out, a); break;
    }
}

void cf_decoder_layer_forward(const cf_decoder_layer *l, int layer, cf_kv_cache *kv, const int64_t *seqs,
                              int64_t n_seqs, int64_t T, const cf_cross_memory *memory, float *x, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t rows = n_seqs * T, h = l->self_attn.hidden;
    float *sub = cf_arena_floats(scratch, (size_t)(rows * h)), *normed = cf_arena_floats(scratch, (size_t)(rows * h));
    sublayer_ctx c = {.l = l, .layer = layer, .kv = kv, .seqs = seqs, .n_seqs = n_seqs, .T = T, .memory = memory};
    const cf_norm *norms[3] = {&l->self_norm, &l->cross_norm, &l->ffn_norm};
    for (int which = SUB_SELF; which <= SUB_FFN; which++) {
        if (l->pre_norm) { /* x += sub(norm(x)) */
            cf_norm_forward(norms[which], x, normed, rows);
            run_sublayer(&c, which, normed, sub, scratch);
            cf_add(x, sub, rows * h);
        } else { /* x = norm(x + sub(x)) */
            run_sublayer(&c, which, x, sub, scratch);
            cf_add(sub, x, rows * h);
            cf_norm_forward(norms[which], sub, x, rows);
        }
    }
    cf_arena_rewind(scratch, mark);
}
