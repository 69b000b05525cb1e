/* Portable side of vmath.h: dispatch between the AVX-512 spans and libm. */
#include "kernels/vmath.h"

#include <math.h>

#include "kernels/dispatch.h"

float cf_exp_shift_sum(float *x, int64_t n, float shift)
{
    if (cf_kernels_isa() == CF_ISA_AVX512)
        return cf_exp_shift_sum_avx512(x, n, shift);
    float acc[16] = {0}; /* lane-wise partial sums, as the vector path keeps them */
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - shift);
        acc[i % 16] += x[i];
    }
    float s = 0.0f;
    for (int j = 0; j < 16; j++)
        s += acc[j];
    return s;
}
