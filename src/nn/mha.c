#include "nn/mha.h"

#include <math.h>
#include <stdio.h>

#include "kernels/kernels.h"

cf_status cf_mha_load(cf_mha *a, const cf_safetensors *st, const char *prefix, int64_t hidden, int n_heads,
                      bool k_bias, cf_error *err)
{
    *a = (cf_mha){.hidden = hidden, .n_heads = n_heads};
    if (n_heads <= 0 || hidden % n_heads != 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: hidden size %lld is not divisible by %d heads", prefix,
                       (long long)hidden, n_heads);
    a->head_dim = (int)(hidden / n_heads);
    static const char *const parts[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    cf_linear *dst[4] = {&a->q, &a->k, &a->v, &a->o};
    char name[512];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
        cf_status s = cf_linear_load(dst[i], st, name, hidden, hidden, i != 1 || k_bias, err);
        if (s != CF_OK) {
            cf_mha_free(a);
            return s;
        }
    }
    return CF_OK;
}

void cf_mha_free(cf_mha *a)
{
    cf_linear_free(&a->q);
    cf_linear_free(&a->k);
    cf_linear_free(&a->v);
    cf_linear_free(&a->o);
}

static size_t aligned_rows(int64_t rows, int64_t n)
{
    size_t b = (size_t)rows * (size_t)n * sizeof(float);
    return (b + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

size_t cf_mha_scratch_bytes(const cf_mha *a, int64_t rows) { return 4 * aligned_rows(rows, a->hidden); }

static cf_attn_args attn_args(const cf_mha *a, const float *q, int64_t n_q, const float *k, const float *v,
                              int64_t n_kv, float *out)
{
    int64_t h = a->hidden;
    return (cf_attn_args){.n_q = n_q, .n_kv = n_kv, .n_heads = a->n_heads, .n_kv_heads = a->n_heads,
                          .head_dim = a->head_dim, .q = q, .q_stride = h, .k = k, .k_stride = h, .v = v,
                          .v_stride = h, .out = out, .out_stride = h,
                          .scale = 1.0f / sqrtf((float)a->head_dim)};
}

void cf_mha_self_forward(const cf_mha *a, const float *x, int64_t seq, float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t h = a->hidden;
    float *q = cf_arena_floats(scratch, (size_t)(seq * h)), *k = cf_arena_floats(scratch, (size_t)(seq * h));
    float *v = cf_arena_floats(scratch, (size_t)(seq * h)), *ctx = cf_arena_floats(scratch, (size_t)(seq * h));
    cf_linear_forward(&a->q, x, seq, q);
    cf_linear_forward(&a->k, x, seq, k);
    cf_linear_forward(&a->v, x, seq, v);
    cf_attn_args args = attn_args(a, q, seq, k, v, seq, ctx);
    cf_attention_f32(&args);
    cf_linear_forward(&a->o, ctx, seq, y);
    cf_arena_rewind(scratch, mark);
}

void cf_mha_project_kv(const cf_mha *a, const float *memory, int64_t n, float *k, float *v)
{
    cf_linear_forward(&a->k, memory, n, k);
    cf_linear_forward(&a->v, memory, n, v);
}

void cf_mha_cross_forward(const cf_mha *a, const float *x, int64_t n_q, const float *k, const float *v,
                          int64_t n_kv, float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t h = a->hidden;
    float *q = cf_arena_floats(scratch, (size_t)(n_q * h)), *ctx = cf_arena_floats(scratch, (size_t)(n_q * h));
    cf_linear_forward(&a->q, x, n_q, q);
    cf_attn_args args = attn_args(a, q, n_q, k, v, n_kv, ctx);
    cf_attention_f32(&args);
    cf_linear_forward(&a->o, ctx, n_q, y);
    cf_arena_rewind(scratch, mark);
}

void cf_mha_cached_forward(const cf_mha *a, cf_kv_cache *c, int layer, const int64_t *seqs, int64_t n_seqs,
                           int64_t T, const float *x, float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t h = a->hidden, rows = n_seqs * T;
    float *q = cf_arena_floats(scratch, (size_t)(rows * h)), *k = cf_arena_floats(scratch, (size_t)(rows * h));
    float *v = cf_arena_floats(scratch, (size_t)(rows * h)), *ctx = cf_arena_floats(scratch, (size_t)(rows * h));
    cf_linear_forward(&a->q, x, rows, q);
    cf_linear_forward(&a->k, x, rows, k);
    cf_linear_forward(&a->v, x, rows, v);
    cf_kv_attend_args args = {.layer = layer, .n_seqs = n_seqs, .T = T, .seqs = seqs, .q = q, .k = k, .v = v,
                              .q_stride = h, .kv_stride = h, .n_heads = a->n_heads, .n_kv_heads = a->n_heads,
                              .head_dim = a->head_dim, .scale = 1.0f / sqrtf((float)a->head_dim), .out = ctx,
                              .out_stride = h};
    cf_kv_attend(c, &args);
    cf_linear_forward(&a->o, ctx, rows, y);
    cf_arena_rewind(scratch, mark);
}
