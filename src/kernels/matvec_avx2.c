/* AVX2 matvec rows: four rows share each load of x; two accumulators per row hide FMA latency. */
#include <immintrin.h>

#include "kernels/dispatch.h"

static inline float hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static float dot_row(const float *w, const float *x, int64_t K)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(x + k), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + k + 8), _mm256_loadu_ps(x + k + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; k < K; k++)
        s += w[k] * x[k];
    return s;
}

void cf_matvec_rows_avx2(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                         int64_t r1)
{
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        const float *w0 = W + r * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
               a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(),
               b3 = _mm256_setzero_ps();
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            __m256 xa = _mm256_loadu_ps(x + k), xb = _mm256_loadu_ps(x + k + 8);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k), xa, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k), xa, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k), xa, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k), xa, a3);
            b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + k + 8), xb, b0);
            b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + k + 8), xb, b1);
            b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + k + 8), xb, b2);
            b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + k + 8), xb, b3);
        }
        float s[4] = {hsum256(_mm256_add_ps(a0, b0)), hsum256(_mm256_add_ps(a1, b1)), hsum256(_mm256_add_ps(a2, b2)),
                      hsum256(_mm256_add_ps(a3, b3))};
        for (; k < K; k++) {
            s[0] += w0[k] * x[k];
            s[1] += w1[k] * x[k];
            s[2] += w2[k] * x[k];
            s[3] += w3[k] * x[k];
        }
        for (int j = 0; j < 4; j++)
            y[r + j] = bias ? s[j] + bias[r + j] : s[j];
    }
    for (; r < r1; r++) {
        float s = dot_row(W + r * K, x, K);
        y[r] = bias ? s + bias[r] : s;
    }
}
