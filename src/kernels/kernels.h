/* f32 compute kernels. Row-major, contiguous unless a stride is given. They know nothing of
 * models. Every routine runs on the library thread pool (threadpool.h) where it is worth it. */
#ifndef CF_KERNELS_KERNELS_H
#define CF_KERNELS_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h" /* cf_f32_to_bf16 / cf_bf16_to_f32: the one bf16 rounding */

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
/* Post-norm residual in one pass: sum += add, then y = layer_norm(sum) (y may be add or sum);
 * the same values as cf_add then cf_layer_norm, without a second sweep over memory. */
void cf_residual_layer_norm(float *sum, const float *add, const float *gamma, const float *beta, float *y,
                            int64_t rows, int64_t n, float eps);

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

/* ---- bf16 and int8 weights ------------------------------------------------------------------ */

/* How a layer's weights are stored for the kernels. */
typedef enum cf_wtype { CF_WTYPE_F32 = 0, CF_WTYPE_BF16, CF_WTYPE_INT8 } cf_wtype;
const char *cf_wtype_name(cf_wtype t);
/* "f32" | "bf16" | "int8" (also "float32", "bfloat16"); false for anything else. */
bool cf_wtype_parse(const char *s, cf_wtype *out);

/* An activation applied to a GEMM's output tile while it is still in cache. */
typedef enum cf_act { CF_ACT_NONE = 0, CF_ACT_GELU_ERF, CF_ACT_GELU_TANH, CF_ACT_RELU, CF_ACT_SILU } cf_act;
/* x = act(x) over n elements (inline for a tile row; on the pool for large n). */
void cf_act_span(cf_act act, float *x, int64_t n);
/* C[M,N] = act(A B^T + bias) with B prepacked (bias [N] may be NULL): the bias and activation run on
 * each finished tile while it is in cache, instead of as passes over C. */
void cf_gemm_f32_packed_bias_act(int64_t M, const float *A, int64_t lda, const cf_gemm_packed *B, const float *bias,
                                 cf_act act, float *C, int64_t ldc);

/* Weights W [N, K] converted once into panels of CF_LOWP_PANEL output columns that hold the
 * dot-product groups the instructions read: bf16 as k-pairs (one 32-bit word = W[n,k], W[n,k+1]:
 * vdpbf16ps), int8 as k-quads (one word = 4 signed bytes: vpdpbusd). Panel p is kp/g words x 48
 * columns, word (k/g, c) at panels[p][(k/g) * 48 + c]. The layout does not depend on the ISA, so
 * every path (AVX-512, AVX2, portable) reads the same pack. int8 is symmetric per output channel
 * (scale[n] = max|W[n,:]| / 127, round to nearest even); activations are quantized per row at
 * run time (asymmetric u8, zero point per row). bf16 rounds to nearest even. */
#define CF_LOWP_PANEL 48
#define CF_LOWP_INT8_MAX_K 65536 /* 255 * 127 * K must fit the int32 accumulator */
typedef struct cf_lowp_weights {
    cf_wtype type; /* CF_WTYPE_BF16 or CF_WTYPE_INT8 */
    int64_t K, N, kp; /* kp: K rounded up to the group size (2 bf16, 4 int8), zero padded */
    uint32_t *panels;
    float *scale;    /* int8: [N] weight scale per output channel */
    int32_t *colsum; /* int8: [N] sum over k of the quantized weights (undoes the activation zero point) */
} cf_lowp_weights;

/* Pack W where W[n, k] = w[n * stride_n + k * stride_k] (torch Linear: stride_n = K, stride_k = 1;
 * GPT-2 Conv1D: stride_n = 1, stride_k = N). */
cf_status cf_lowp_pack_f32(cf_lowp_weights *w, cf_wtype type, const float *src, int64_t N, int64_t K,
                           int64_t stride_n, int64_t stride_k, cf_error *err);
/* bf16 weights as stored (raw bf16 bits), packed without a detour through f32. */
cf_status cf_lowp_pack_bf16_bits(cf_lowp_weights *w, const uint16_t *src, int64_t N, int64_t K, int64_t stride_n,
                                 int64_t stride_k, cf_error *err);
void cf_lowp_free(cf_lowp_weights *w);
/* C[M, N] = act(A[M, K] W^T + bias) (bias may be NULL); lda/ldc are row strides in floats. */
void cf_lowp_linear(const cf_lowp_weights *w, const float *A, int64_t M, int64_t lda, const float *bias, cf_act act,
                    float *C, int64_t ldc);

/* The machine's limits, measured on the pool: streaming read bandwidth over a `bytes` buffer
 * (GB/s), and the peak rate of the widest multiply-add instruction for weights of type t
 * (f32 FMA, bf16 vdpbf16ps, int8 vpdpbusd; GFLOP/s counting a multiply-add as 2). 0 = unknown. */
double cf_measure_read_gbs(size_t bytes);
double cf_measure_peak_gflops(cf_wtype t);

#endif
