/* Vectorized transcendental spans used by the element-wise and row kernels, per ISA.
 * Accuracy: exp within 2 ulp; tanh within 2 ulp (polynomial near 0); the erf in GELU is
 * Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the same approximation torch's vectorized GELU uses. */
#ifndef CF_KERNELS_VMATH_H
#define CF_KERNELS_VMATH_H

#include <stdint.h>

void cf_gelu_erf_avx512(float *x, int64_t n);
void cf_gelu_tanh_avx512(float *x, int64_t n);
void cf_silu_avx512(float *x, int64_t n);
void cf_tanh_avx512(float *x, int64_t n);
/* x[i] = exp(x[i] - shift); returns the sum of the new x. */
float cf_exp_shift_sum_avx512(float *x, int64_t n, float shift);

/* Dispatching versions for the other kernels: x[i] = exp(x[i] - shift), returns the sum. */
float cf_exp_shift_sum(float *x, int64_t n, float shift);

#endif
