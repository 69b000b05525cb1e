#include "nn/kv_cache.h"

#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

cf_status cf_kv_cache_init(cf_kv_cache *c, int n_layers, int64_t n_seqs, int64_t max_len, int64_t kv_dim,
                           cf_error *err)
{
    memset(c, 0, sizeof *c);
    if (n_layers <= 0 || n_seqs <= 0 || max_len <= 0 || kv_dim <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "kv cache: bad size (layers %d, sequences %lld, length %lld, dim %lld)",
                       n_layers, (long long)n_seqs, (long long)max_len, (long long)kv_dim);
    c->n_layers = n_layers;
    c->n_seqs = n_seqs;
    c->max_len = max_len;
    c->kv_dim = kv_dim;
    c->block_floats = (size_t)n_layers * 2 * (size_t)max_len * (size_t)kv_dim + (size_t)max_len;
    double bytes = (double)c->block_floats * (double)n_seqs * sizeof(float);
    if (bytes > 64.0 * 1024 * 1024 * 1024)
        return cf_fail(err, CF_ERR_NOMEM, "kv cache: %lld sequences x %lld positions needs %.1f GB",
                       (long long)n_seqs, (long long)max_len, bytes / 1e9);
    c->data = aligned_alloc(64, ((c->block_floats * (size_t)n_seqs * sizeof(float)) + 63) & ~(size_t)63);
    c->slot = malloc((size_t)n_seqs * sizeof *c->slot);
    c->scratch = malloc(2 * (size_t)n_seqs * sizeof *c->scratch);
    c->n_tokens = calloc((size_t)n_seqs, sizeof *c->n_tokens);
    if (!c->data || !c->slot || !c->scratch || !c->n_tokens) {
        cf_kv_cache_free(c);
        return cf_fail(err, CF_ERR_NOMEM, "kv cache: out of memory for %.1f MB", bytes / 1e6);
    }
    for (int64_t i = 0; i < n_seqs; i++)
        c->slot[i] = (int32_t)i;
    return CF_OK;
}

void cf_kv_cache_free(cf_kv_cache *c)
{
    free(c->data);
    free(c->slot);
    free(c->scratch);
    free(c->n_tokens);
    memset(c, 0, sizeof *c);
}

static float *block(const cf_kv_cache *c, int32_t b) { return c->data + (size_t)b * c->block_floats; }

float *cf_kv_keys(const cf_kv_cache *c, int64_t seq, int layer)
{
    return block(c, c->slot[seq]) + (size_t)layer * 2 * (size_t)c->max_len * (size_t)c->kv_dim;
}

float *cf_kv_values(const cf_kv_cache *c, int64_t seq, int layer)
{
    return cf_kv_keys(c, seq, layer) + (size_t)c->max_len * (size_t)c->kv_dim;
}

float *cf_kv_mask(const cf_kv_cache *c, int64_t seq)
{
    return block(c, c->slot[seq]) + (size_t)c->n_layers * 2 * (size_t)c->max_len * (size_t)c->kv_dim;
}

int64_t *cf_kv_n_tokens(const cf_kv_cache *c, int64_t seq) { return &c->n_tokens[c->slot[seq]]; }

/* Copy the first `len` rows of every layer, the mask and the token count. */
static void copy_block(cf_kv_cache *c, int32_t dst, int32_t src)
{
    size_t rows = (size_t)c->len * (size_t)c->kv_dim, stride = (size_t)c->max_len * (size_t)c->kv_dim;
    float *d = block(c, dst), *s = block(c, src);
    for (int l = 0; l < 2 * c->n_layers; l++)
        memcpy(d + (size_t)l * stride, s + (size_t)l * stride, rows * sizeof(float));
    size_t mask_at = (size_t)c->n_layers * 2 * stride;
    memcpy(d + mask_at, s + mask_at, (size_t)c->len * sizeof(float));
    c->n_tokens[dst] = c->n_tokens[src];
}

void cf_kv_cache_reorder(cf_kv_cache *c, const int32_t *src)
{
    if (!src)
        return;
    int64_t n = c->n_seqs;
    int32_t *uses = c->scratch, *next = c->scratch + n; /* uses per block; new slot table */
    memset(uses, 0, (size_t)n * sizeof *uses);
    for (int64_t i = 0; i < n; i++)
        uses[c->slot[src[i]]]++;
    /* first taker of a block keeps it; later takers copy into blocks nobody continues */
    int32_t free_block = 0;
    for (int64_t i = 0; i < n; i++) {
        int32_t b = c->slot[src[i]];
        if (uses[b] > 0) {
            uses[b] = -uses[b]; /* claimed */
            next[i] = b;
            continue;
        }
        while (uses[free_block] != 0)
            free_block++;
        uses[free_block] = -1;
        copy_block(c, free_block, b);
        next[i] = free_block;
    }
    memcpy(c->slot, next, (size_t)n * sizeof *next);
}

void cf_kv_cache_replicate(cf_kv_cache *c, int64_t first, int64_t n)
{
    for (int64_t i = first + 1; i < first + n; i++)
        copy_block(c, c->slot[i], c->slot[first]);
}

void cf_kv_attend(cf_kv_cache *c, const cf_kv_attend_args *a)
{
    size_t row_bytes = (size_t)c->kv_dim * sizeof(float);
    for (int64_t b = 0; b < a->n_seqs; b++) {
        int64_t seq = a->seqs[b];
        float *keys = cf_kv_keys(c, seq, a->layer), *values = cf_kv_values(c, seq, a->layer);
        for (int64_t t = 0; t < a->T; t++) {
            int64_t row = b * a->T + t;
            memcpy(keys + (c->len + t) * c->kv_dim, a->k + row * a->kv_stride, row_bytes);
            memcpy(values + (c->len + t) * c->kv_dim, a->v + row * a->kv_stride, row_bytes);
        }
        cf_attn_args args = {
            .n_q = a->T, .n_kv = c->len + a->T,
            .n_heads = a->n_heads, .n_kv_heads = a->n_kv_heads, .head_dim = a->head_dim,
            .q = a->q + b * a->T * a->q_stride, .q_stride = a->q_stride,
            .k = keys, .k_stride = c->kv_dim, .v = values, .v_stride = c->kv_dim,
            .out = a->out + b * a->T * a->out_stride, .out_stride = a->out_stride,
            .scale = a->scale, .key_mask = cf_kv_mask(c, seq), .bias = a->bias, .causal = true,
            .causal_offset = c->len,
        };
        cf_attention_f32(&args);
    }
}
