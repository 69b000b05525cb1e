/* Per-row attention pieces for small query tiles (attention.c picks them over BLAS for decode). */
#ifndef CF_KERNELS_ATTENTION_ROWS_H
#define CF_KERNELS_ATTENTION_ROWS_H

#include <stdint.h>

/* s[j] = scale * dot(q, k_j) for the n keys k_j = k + j * k_stride, each d long. */
void cf_attn_scores_avx512(const float *q, const float *k, int64_t k_stride, int64_t n, int64_t d, float scale,
                           float *s);
/* acc[0, d) += sum_j p[j] * v_j. */
void cf_attn_weighted_sum_avx512(const float *p, const float *v, int64_t v_stride, int64_t n, int64_t d, float *acc);

#endif
