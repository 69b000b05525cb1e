/* The small-tile pieces of attention for decode (a few query rows): scores as dot products and
 * the probability-weighted sum of values, without a BLAS call per key block. */
#include <immintrin.h>

#include "kernels/attention_rows.h"

static inline __mmask16 head_mask(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

void cf_attn_scores_avx512(const float *q, const float *k, int64_t k_stride, int64_t n, int64_t d, float scale,
                           float *s)
{
    for (int64_t j = 0; j < n; j++) {
        const float *kj = k + j * k_stride;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t c = 0; c < d; c += 16) {
            __mmask16 m = head_mask(d - c);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + c), _mm512_maskz_loadu_ps(m, kj + c), acc);
        }
        s[j] = scale * _mm512_reduce_add_ps(acc);
    }
}

void cf_attn_weighted_sum_avx512(const float *p, const float *v, int64_t v_stride, int64_t n, int64_t d, float *acc)
{
    for (int64_t c0 = 0; c0 < d; c0 += 64) { /* four vectors of the output stay in registers */
        __m512 a[4];
        __mmask16 m[4];
        for (int i = 0; i < 4; i++) {
            m[i] = head_mask(d - c0 - 16 * i > 0 ? d - c0 - 16 * i : 0);
            a[i] = _mm512_maskz_loadu_ps(m[i], acc + c0 + 16 * i);
        }
        for (int64_t j = 0; j < n; j++) {
            __m512 pj = _mm512_set1_ps(p[j]);
            const float *vj = v + j * v_stride + c0;
            for (int i = 0; i < 4; i++)
                a[i] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m[i], vj + 16 * i), a[i]);
        }
        for (int i = 0; i < 4; i++)
            _mm512_mask_storeu_ps(acc + c0 + 16 * i, m[i], a[i]);
    }
}
