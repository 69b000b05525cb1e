/* f32 compute kernels. Row-major, contiguous unless a stride is given. They know nothing of
 * models. Every routine runs on the library thread pool (threadpool.h) where it is worth it. */
#ifndef CF_KERNELS_KERNELS_H
#define CF_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

/* C[M,N] = alpha * op(A) * op(B) + beta * C, BLAS semantics (lda/ldb/ldc are row strides). */
void cf_gemm_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* op(B) [K, N] packed once (at model load) into the panels the GEMM micro-kernel reads, so calls
 * skip per-call repacking. B must outlive the pack: paths without a packed kernel read B itself. */
typedef struct cf_gemm_packed {
    int64_t K, N;
    float *panels; /* NULL when this CPU has no packed kernel */
    const float *b;
    bool trans_b;
    int64_t ldb;
} cf_gemm_packed;

cf_status cf_gemm_pack_b(cf_gemm_packed *p, bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb,
                         cf_error *err);
void cf_gemm_packed_free(cf_gemm_packed *p);
/* C[M,N] = alpha op(A) op(B) + beta C with op(B) prepacked. */
void cf_gemm_f32_packed(bool trans_a, int64_t M, float alpha, const float *A, int64_t lda, const cf_gemm_packed *B,
                        float beta, float *C, int64_t ldc);
/* y[N] = x[K] op(B) (+ bias), streaming the packed panels once: the M=1 case. */
void cf_matvec_f32_packed(const cf_gemm_packed *B, const float *x, const float *bias, float *y);

/* y[N] = W[N,K] x[K] (+ bias): the M=1 decode path, streams W once. */
void cf_matvec_f32(const float *W, const float *x, const float *bias, float *y, int64_t N, int64_t K);

/* Row-wise ops over [rows, n]. */
void cf_softmax_rows(float *x, int64_t rows, int64_t n);
void cf_layer_norm(const float *x, const float *gamma, const float *beta, float *y, int64_t rows, int64_t n,
                   float eps);
void cf_rms_norm(const float *x, const float *gamma, float *y, int64_t rows, int64_t n, float eps);

/* Element-wise, in place, n elements. */
void cf_gelu_erf(float *x, int64_t n);
void cf_gelu_tanh(float *x, int64_t n); /* "gelu_new" / gelu_pytorch_tanh */
void cf_silu(float *x, int64_t n);
void cf_relu(float *x, int64_t n);
void cf_tanh_inplace(float *x, int64_t n);

/* Broadcast arithmetic: y[r, i] op= b[i] over rows x n; and plain n-element ops. */
void cf_add_row_bias(float *y, const float *b, int64_t rows, int64_t n);
void cf_add(float *y, const float *a, int64_t n);       /* y += a */
void cf_mul(float *y, const float *a, int64_t n);       /* y *= a */
void cf_scale(float *y, float s, int64_t n);            /* y *= s */

/* out[i, :] = table[ids[i], :]; ids outside [0, vocab) are the caller's job to reject. */
void cf_embedding_gather(const float *table, int64_t dim, const int64_t *ids, int64_t n, float *out);

/* Scaled dot-product attention for one sequence, all heads (grouped-query when
 * n_kv_heads < n_heads). Row i of Q and head h live at q + i*q_stride + h*head_dim; K/V alike with
 * kv heads. Never materializes more than one head's score row block per thread. */
typedef struct cf_attn_args {
    int64_t n_q, n_kv;
    int n_heads, n_kv_heads, head_dim;
    const float *q;
    int64_t q_stride;
    const float *k;
    int64_t k_stride;
    const float *v;
    int64_t v_stride;
    float *out;
    int64_t out_stride;
    float scale;
    const float *key_mask; /* [n_kv] additive (0 keep, large negative drop) or NULL */
    const float *bias;     /* [n_heads, n_q, n_kv] additive (relative positions) or NULL */
    bool causal;           /* query i sees key j only when j <= i + causal_offset */
    int64_t causal_offset;
} cf_attn_args;

void cf_attention_f32(const cf_attn_args *a);

#endif
