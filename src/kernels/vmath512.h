/* AVX-512 vector forms of exp, sigmoid, tanh, erf, GELU and SiLU, inline so GEMM epilogues apply
 * an activation to a tile in registers (a masked store read back at once does not forward, and
 * stalls). Include only from *_avx512.c files. Accuracy as vmath.h states. */
#ifndef CF_KERNELS_VMATH512_H
#define CF_KERNELS_VMATH512_H

#include <immintrin.h>

#include "kernels/kernels.h"

/* exp(x) = 2^n exp(r), x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact product),
 * exp(r) by the Cephes degree-6 polynomial; scalef applies 2^n with correct overflow/underflow. */
static inline __m512 exp512(__m512 x)
{
    /* Clamp with x as the second operand so a NaN passes through. */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(88.8f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 1 / (1 + exp(-x)), exact division (the reciprocal estimate is not accurate enough). */
static inline __m512 sigmoid512(__m512 x)
{
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* Cephes tanhf: odd polynomial below 0.625, else 1 - 2 / (exp(2|x|) + 1) with the sign put back. */
static inline __m512 tanh512(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x);
    __m512 z = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    __m512 e = exp512(_mm512_mul_ps(two, ax));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
    big = _mm512_or_ps(big, _mm512_and_ps(x, _mm512_set1_ps(-0.0f))); /* copy the sign of x */
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), big, small);
}

/* erf by Abramowitz & Stegun 7.1.26 on |x|, sign restored. */
static inline __m512 erf512(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x), one = _mm512_set1_ps(1.0f);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.3275911f), ax, one));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax)));
    __m512 y = _mm512_fnmadd_ps(p, e, one);
    return _mm512_or_ps(y, _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
}

static inline __m512 gelu_erf512(__m512 x)
{
    __m512 half_x = _mm512_mul_ps(_mm512_set1_ps(0.5f), x);
    __m512 e = erf512(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f)));
    return _mm512_fmadd_ps(half_x, e, half_x);
}

/* 0.5 x (1 + tanh(u)) = x * sigmoid(2u): the same function without cancellation for negative x. */
static inline __m512 gelu_tanh512(__m512 x)
{
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
    return _mm512_mul_ps(x, sigmoid512(_mm512_add_ps(u, u)));
}

static inline __m512 silu512(__m512 x) { return _mm512_mul_ps(x, sigmoid512(x)); }

/* act(x) for the activations a linear layer can fuse. */
static inline __m512 cf_act512(cf_act act, __m512 x)
{
    switch (act) {
    case CF_ACT_GELU_ERF:
        return gelu_erf512(x);
    case CF_ACT_GELU_TANH:
        return gelu_tanh512(x);
    case CF_ACT_SILU:
        return silu512(x);
    case CF_ACT_RELU:
        return _mm512_max_ps(x, _mm512_setzero_ps());
    default:
        return x;
    }
}

#endif
