#include "nn/attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

/* Stack the three [hidden, hidden] projections into one [3*hidden, hidden] layer so Q, K and V
 * come out of a single GEMM. The checkpoint's f32 values are stacked, then the layer packs them
 * for whatever weight type it is loaded in. */
static cf_status load_fused_qkv(cf_linear *dst, const cf_safetensors *st, const char *const names[3],
                                int64_t hidden, cf_error *err)
{
    size_t block = (size_t)hidden * (size_t)hidden;
    float *w = malloc(3 * block * sizeof(float));
    float *b = malloc(3 * (size_t)hidden * sizeof(float));
    if (!w || !b) {
        free(w);
        free(b);
        return cf_fail(err, CF_ERR_NOMEM, "attention: cannot allocate fused QKV weights (%lld floats)",
                       (long long)(3 * block));
    }
    cf_status s = CF_OK;
    for (int i = 0; i < 3 && s == CF_OK; i++) {
        char name[512];
        int64_t shape[2] = {hidden, hidden};
        float *part = NULL;
        snprintf(name, sizeof name, "%s.weight", names[i]);
        s = cf_st_get_f32(st, name, 2, shape, &part, err);
        if (s == CF_OK)
            memcpy(w + i * block, part, block * sizeof(float));
        free(part);
        part = NULL;
        snprintf(name, sizeof name, "%s.bias", names[i]);
        if (s == CF_OK)
            s = cf_st_get_f32(st, name, 1, &hidden, &part, err);
        if (s == CF_OK)
            memcpy(b + i * hidden, part, (size_t)hidden * sizeof(float));
        free(part);
    }
    if (s != CF_OK) {
        free(w);
        free(b);
        return s;
    }
    return cf_linear_init_owned(dst, w, b, hidden, 3 * hidden, err);
}

cf_status cf_self_attention_load(cf_self_attention *a, const cf_safetensors *st, const char *q, const char *k,
                                 const char *v, const char *o, int64_t hidden, int n_heads, cf_error *err)
{
    *a = (cf_self_attention){.hidden = hidden, .n_heads = n_heads};
    if (n_heads <= 0 || hidden % n_heads != 0)
        return cf_fail(err, CF_ERR_FORMAT, "attention: hidden size %lld is not divisible by %d heads",
                       (long long)hidden, n_heads);
    a->head_dim = (int)(hidden / n_heads);
    const char *names[3] = {q, k, v};
    cf_status s = load_fused_qkv(&a->qkv, st, names, hidden, err);
    if (s == CF_OK)
        s = cf_linear_load(&a->out, st, o, hidden, hidden, true, err);
    if (s != CF_OK)
        cf_self_attention_free(a);
    return s;
}

void cf_self_attention_free(cf_self_attention *a)
{
    cf_linear_free(&a->qkv);
    cf_linear_free(&a->out);
}

static size_t aligned(size_t bytes) { return (bytes + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN; }

size_t cf_self_attention_scratch_bytes(const cf_self_attention *a, int64_t tokens)
{
    return aligned((size_t)tokens * 3 * (size_t)a->hidden * sizeof(float)) +
           aligned((size_t)tokens * (size_t)a->hidden * sizeof(float));
}

void cf_self_attention_forward(const cf_self_attention *a, const float *x, int64_t batch, int64_t seq,
                               const float *key_mask, float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t tokens = batch * seq, h = a->hidden;
    float *qkv = cf_arena_floats(scratch, (size_t)(tokens * 3 * h));
    float *ctx = cf_arena_floats(scratch, (size_t)(tokens * h));
    cf_linear_forward(&a->qkv, x, tokens, qkv);
    for (int64_t b = 0; b < batch; b++) {
        const float *base = qkv + b * seq * 3 * h;
        cf_attn_args args = {
            .n_q = seq, .n_kv = seq, .n_heads = a->n_heads, .n_kv_heads = a->n_heads, .head_dim = a->head_dim,
            .q = base, .q_stride = 3 * h, .k = base + h, .k_stride = 3 * h, .v = base + 2 * h, .v_stride = 3 * h,
            .out = ctx + b * seq * h, .out_stride = h, .scale = 1.0f / sqrtf((float)a->head_dim),
            .key_mask = key_mask ? key_mask + b * seq : NULL,
        };
        cf_attention_f32(&args);
    }
    cf_linear_forward(&a->out, ctx, tokens, y);
    cf_arena_rewind(scratch, mark);
}
