/* Scaled dot-product attention in one pass over the keys per (head, query block), with the
 * online softmax of FlashAttention (Dao et al. 2022): for each block of keys
 *   S = scale * Q_blk K_blk^T + key_mask + bias;  m' = max(m, rowmax S);  P = exp(S - m');
 *   l = l * exp(m - m') + rowsum P;  O = O * exp(m - m') + P V_blk;
 * and O / l at the end. Memory is one query block x one key block of scores plus the block's
 * output accumulator, whatever the sequence length. Causal rows mask keys past i + causal_offset. */
#include <math.h>
#include <string.h>

#include "kernels/attention_rows.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "core/threadpool.h"
#include "kernels/vmath.h"

#define ATTN_Q_BLOCK 32
#define ATTN_KV_BLOCK 128
#define ATTN_ROWWISE_MAX 4 /* query tiles this small (decode) skip BLAS: per-call cost beats the work */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Keys visible to query i: [0, limit). */
static int64_t key_limit(const cf_attn_args *a, int64_t i)
{
    if (!a->causal)
        return a->n_kv;
    int64_t lim = i + a->causal_offset + 1;
    return lim < 0 ? 0 : min64(lim, a->n_kv);
}

/* Running state of one query row. */
typedef struct row_state {
    float max, sum;
} row_state;

/* Row i's scores s[0, cols) for keys [k0, k0 + cols): add mask and bias, exponentiate against the
 * updated running max, and return the factor the row's earlier output must be scaled by. */
static float online_softmax_block(const cf_attn_args *a, int h, int64_t i, int64_t k0, float *s, int64_t cols,
                                  row_state *st)
{
    int64_t lim = key_limit(a, i) - k0;
    lim = lim < 0 ? 0 : min64(lim, cols);
    const float *bias = a->bias ? a->bias + ((int64_t)h * a->n_q + i) * a->n_kv + k0 : NULL;
    const float *mask = a->key_mask ? a->key_mask + k0 : NULL;
    float mx = -INFINITY;
    for (int64_t j = 0; j < lim; j++) {
        float v = s[j] + (mask ? mask[j] : 0.0f) + (bias ? bias[j] : 0.0f);
        s[j] = v;
        mx = v > mx ? v : mx;
    }
    float new_max = mx > st->max ? mx : st->max;
    if (new_max == -INFINITY) { /* nothing visible yet (or every key masked with -inf) */
        memset(s, 0, (size_t)cols * sizeof(float));
        return 1.0f;
    }
    float rescale = st->max == -INFINITY ? 0.0f : expf(st->max - new_max);
    float block_sum = lim > 0 ? cf_exp_shift_sum(s, lim, new_max) : 0.0f;
    if (lim < cols)
        memset(s + lim, 0, (size_t)(cols - lim) * sizeof(float));
    st->sum = st->sum * rescale + block_sum;
    st->max = new_max;
    return rescale;
}

static void attend_block(const cf_attn_args *a, int h, int64_t q0, int64_t q1)
{
    int64_t rows = q1 - q0, d = a->head_dim;
    int64_t keys = key_limit(a, q1 - 1); /* the block's widest row; later keys are masked for all */
    int kvh = h / (a->n_heads / a->n_kv_heads);
    float *out = a->out + q0 * a->out_stride + (int64_t)h * d;
    /* one scratch block: scores [rows, KV block], then the output accumulator [rows, d] */
    float *s = keys > 0 ? cf_scratch_f32(CF_SCRATCH_ATTN_SCORES, (size_t)(rows * (ATTN_KV_BLOCK + d))) : NULL;
    if (!s) { /* no visible key (or no memory for a few KB): zero output rather than garbage */
        for (int64_t r = 0; r < rows; r++)
            memset(out + r * a->out_stride, 0, (size_t)d * sizeof(float));
        return;
    }
    float *acc = s + rows * ATTN_KV_BLOCK;
    memset(acc, 0, (size_t)(rows * d) * sizeof(float));
    row_state st[ATTN_Q_BLOCK];
    for (int64_t r = 0; r < rows; r++)
        st[r] = (row_state){-INFINITY, 0.0f};
    const float *q = a->q + q0 * a->q_stride + (int64_t)h * d;
    bool rowwise = rows <= ATTN_ROWWISE_MAX && cf_kernels_isa() == CF_ISA_AVX512;
    for (int64_t k0 = 0; k0 < keys; k0 += ATTN_KV_BLOCK) {
        int64_t cols = min64(ATTN_KV_BLOCK, keys - k0);
        const float *k = a->k + k0 * a->k_stride + (int64_t)kvh * d;
        const float *v = a->v + k0 * a->v_stride + (int64_t)kvh * d;
        if (rowwise)
            for (int64_t r = 0; r < rows; r++)
                cf_attn_scores_avx512(q + r * a->q_stride, k, a->k_stride, cols, d, a->scale, s + r * cols);
        else
            cf_gemm_f32(false, true, rows, cols, d, a->scale, q, a->q_stride, k, a->k_stride, 0.0f, s, cols);
        for (int64_t r = 0; r < rows; r++) {
            float rescale = online_softmax_block(a, h, q0 + r, k0, s + r * cols, cols, &st[r]);
            if (rescale != 1.0f)
                cf_scale(acc + r * d, rescale, d);
        }
        if (rowwise)
            for (int64_t r = 0; r < rows; r++)
                cf_attn_weighted_sum_avx512(s + r * cols, v, a->v_stride, cols, d, acc + r * d);
        else
            cf_gemm_f32(false, false, rows, d, cols, 1.0f, s, cols, v, a->v_stride, 1.0f, acc, d);
    }
    for (int64_t r = 0; r < rows; r++) {
        /* A query that sees no key at all gets a zero output rather than NaN. */
        float inv = st[r].sum > 0.0f ? 1.0f / st[r].sum : 0.0f;
        for (int64_t c = 0; c < d; c++)
            out[r * a->out_stride + c] = acc[r * d + c] * inv;
    }
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
