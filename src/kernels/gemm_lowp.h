/* Inside the bf16/int8 GEMM: the work description every ISA's block kernel reads, and the
 * per-ISA entry points. The driver (gemm_lowp.c) converts A once per call into rows of 32-bit
 * words (bf16 pairs or u8 quads, zero padded to kp), then splits panels across the pool. */
#ifndef CF_KERNELS_GEMM_LOWP_H
#define CF_KERNELS_GEMM_LOWP_H

#include <stdint.h>

#include "kernels/kernels.h"

#define LOWP_NR CF_LOWP_PANEL
#define LOWP_MR 8 /* rows per register tile */

typedef struct cf_lowp_task {
    const cf_lowp_weights *w;
    int64_t M;
    const uint32_t *a;     /* converted A: row i at a + i * a_ld, kp / group words */
    int64_t a_ld;          /* in words */
    const float *a_scale;  /* int8: per row */
    const int32_t *a_zero; /* int8: per row zero point (u8 value of 0.0) */
    const float *bias;     /* [N] or NULL */
    cf_act act;
    float *c;
    int64_t ldc;
} cf_lowp_task;

/* Words per row of converted A / per panel row of B: kp / 2 (bf16) or kp / 4 (int8). */
static inline int64_t cf_lowp_words(const cf_lowp_weights *w) { return w->kp / (w->type == CF_WTYPE_INT8 ? 4 : 2); }

/* C rows [i0, i1) x panels [p0, p1), bias, activation and all. */
typedef void (*cf_lowp_block_fn)(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_bf16_portable(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_int8_portable(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_bf16_avx2(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_int8_avx2(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_bf16_avx512(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);
void cf_lowp_int8_avx512(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1);

/* Convert rows [r0, r1) of A [., K] into words (bf16 pairs, RNE) / quantize them (u8 quads with a
 * per-row scale and zero point). Results are identical on every ISA. */
void cf_lowp_bf16_rows_portable(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                                int64_t r0, int64_t r1);
void cf_lowp_bf16_rows_avx512(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                              int64_t r0, int64_t r1);
void cf_lowp_quant_rows_portable(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                                 float *scale, int32_t *zero, int64_t r0, int64_t r1);
void cf_lowp_quant_rows_avx512(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                               float *scale, int32_t *zero, int64_t r0, int64_t r1);
/* Scale and zero point of one row with the given min and max (shared so every ISA agrees). */
void cf_lowp_row_params(float lo, float hi, float *scale, int32_t *zero);

/* Scalar epilogue shared by the portable path: bias and activation on a finished row segment. */
void cf_lowp_finish_row(const cf_lowp_task *t, float *c, int64_t j, int64_t cols);

#endif
