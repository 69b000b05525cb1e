/* AVX-512 exp, tanh, GELU and SiLU over spans; the tail is a masked vector, so there is no scalar
 * epilogue with different rounding. */
#include <immintrin.h>

#include "kernels/vmath.h"
#include "kernels/vmath512.h"

#define DEFINE_SPAN(name, op)                                                      \
    void name(float *x, int64_t n)                                                 \
    {                                                                              \
        int64_t i = 0;                                                             \
        for (; i + 16 <= n; i += 16)                                               \
            _mm512_storeu_ps(x + i, op(_mm512_loadu_ps(x + i)));                   \
        if (i < n) {                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);                       \
            _mm512_mask_storeu_ps(x + i, m, op(_mm512_maskz_loadu_ps(m, x + i)));  \
        }                                                                          \
    }

DEFINE_SPAN(cf_gelu_erf_avx512, gelu_erf512)
DEFINE_SPAN(cf_gelu_tanh_avx512, gelu_tanh512)
DEFINE_SPAN(cf_silu_avx512, silu512)
DEFINE_SPAN(cf_tanh_avx512, tanh512)

float cf_exp_shift_sum_avx512(float *x, int64_t n, float shift)
{
    __m512 s = _mm512_set1_ps(shift), acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s)));
        _mm512_mask_storeu_ps(x + i, m, e);
        acc = _mm512_add_ps(acc, e);
    }
    return _mm512_reduce_add_ps(acc);
}
