/* Scaled dot-product attention, one (head, query block) per pool task:
 *   S = scale * Q_blk K^T + key_mask + bias;  P = softmax(S) row-wise;  O_blk = P V.
 * Causal rows mask keys past i + causal_offset. The only scratch is this block's score rows. */
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "kernels/threadpool.h"
#include "kernels/vmath.h"

#define ATTN_Q_BLOCK 32

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Keys visible to query i: [0, limit). */
static int64_t key_limit(const cf_attn_args *a, int64_t i)
{
    if (!a->causal)
        return a->n_kv;
    int64_t lim = i + a->causal_offset + 1;
    return lim < 0 ? 0 : min64(lim, a->n_kv);
}

static void add_mask_and_softmax(const cf_attn_args *a, int h, int64_t i, float *s, int64_t cols)
{
    int64_t lim = key_limit(a, i);
    const float *bias = a->bias ? a->bias + ((int64_t)h * a->n_q + i) * a->n_kv : NULL;
    float mx = -INFINITY;
    for (int64_t j = 0; j < lim; j++) {
        float v = s[j];
        if (a->key_mask)
            v += a->key_mask[j];
        if (bias)
            v += bias[j];
        s[j] = v;
        mx = v > mx ? v : mx;
    }
    if (mx == -INFINITY)
        lim = 0; /* every visible key masked with -inf */
    float sum = cf_exp_shift_sum(s, lim, mx);
    /* A query that sees no key at all gets a zero output rather than NaN. */
    float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int64_t j = 0; j < lim; j++)
        s[j] *= inv;
    for (int64_t j = lim; j < cols; j++)
        s[j] = 0.0f;
}

static void attend_block(const cf_attn_args *a, int h, int64_t q0, int64_t q1)
{
    int64_t rows = q1 - q0;
    int64_t cols = key_limit(a, q1 - 1); /* the block's widest row; later keys are masked for all */
    int kvh = h / (a->n_heads / a->n_kv_heads);
    int64_t d = a->head_dim;
    float *out = a->out + q0 * a->out_stride + (int64_t)h * d;
    if (cols <= 0) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < d; c++)
                out[r * a->out_stride + c] = 0.0f;
        return;
    }
    float *s = cf_scratch_f32(CF_SCRATCH_ATTN_SCORES, (size_t)(rows * cols));
    if (!s)
        return; /* out of memory for a few KB: nothing sensible left to do */
    const float *q = a->q + q0 * a->q_stride + (int64_t)h * d;
    const float *k = a->k + (int64_t)kvh * d;
    const float *v = a->v + (int64_t)kvh * d;
    cf_gemm_f32(false, true, rows, cols, d, a->scale, q, a->q_stride, k, a->k_stride, 0.0f, s, cols);
    for (int64_t r = 0; r < rows; r++)
        add_mask_and_softmax(a, h, q0 + r, s + r * cols, cols);
    cf_gemm_f32(false, false, rows, d, cols, 1.0f, s, cols, v, a->v_stride, 0.0f, out, a->out_stride);
}

typedef struct attn_task {
    const cf_attn_args *a;
    int64_t q_blocks;
} attn_task;

static void attn_range(void *ctx, int64_t begin, int64_t end)
{
    const attn_task *t = ctx;
    for (int64_t item = begin; item < end; item++) {
        int h = (int)(item / t->q_blocks);
        int64_t q0 = (item % t->q_blocks) * ATTN_Q_BLOCK;
        attend_block(t->a, h, q0, min64(q0 + ATTN_Q_BLOCK, t->a->n_q));
    }
}

void cf_attention_f32(const cf_attn_args *a)
{
    if (a->n_q <= 0 || a->n_heads <= 0 || a->n_kv_heads <= 0 || a->head_dim <= 0 ||
        a->n_heads % a->n_kv_heads != 0)
        return; /* shapes are validated by the model layer; nothing to compute here */
    attn_task t = {a, (a->n_q + ATTN_Q_BLOCK - 1) / ATTN_Q_BLOCK};
    cf_parallel_for((int64_t)a->n_heads * t.q_blocks, 1, attn_range, &t);
}
