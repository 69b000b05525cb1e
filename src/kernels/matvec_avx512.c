/* AVX-512 matvec rows: four rows share each load of x; two accumulators per row hide FMA latency. */
#include <immintrin.h>

#include "kernels/dispatch.h"

static inline __mmask16 tail_mask(int64_t n) { return (__mmask16)((1u << n) - 1u); }

static float dot_row(const float *w, const float *x, int64_t K)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16), _mm512_loadu_ps(x + k + 16), a1);
    }
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : tail_mask(K - k);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + k), _mm512_maskz_loadu_ps(m, x + k), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

void cf_matvec_rows_avx512(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                           int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *w0 = W + r * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
               a3 = _mm512_setzero_ps();
        __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(),
               b3 = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 32 <= K; k += 32) {
            __m512 xa = _mm512_loadu_ps(x + k), xb = _mm512_loadu_ps(x + k + 16);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xa, a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), xa, a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), xa, a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), xa, a3);
            b0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k + 16), xb, b0);
            b1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k + 16), xb, b1);
            b2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k + 16), xb, b2);
            b3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k + 16), xb, b3);
        }
        for (; k < K; k += 16) {
            __mmask16 m = K - k >= 16 ? (__mmask16)0xffff : tail_mask(K - k);
            __m512 xa = _mm512_maskz_loadu_ps(m, x + k);
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w0 + k), xa, a0);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w1 + k), xa, a1);
            a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w2 + k), xa, a2);
            a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w3 + k), xa, a3);
        }
        float s[4] = {_mm512_reduce_add_ps(_mm512_add_ps(a0, b0)), _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)),
                      _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)), _mm512_reduce_add_ps(_mm512_add_ps(a3, b3))};
        for (int j = 0; j < 4; j++)
            y[r + j] = bias ? s[j] + bias[r + j] : s[j];
    }
    for (; r < r1; r++) {
        float s = dot_row(W + r * K, x, K);
        y[r] = bias ? s + bias[r] : s;
    }
}
