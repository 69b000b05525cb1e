/* Shared by the kernel tests: deterministic random data, and the tolerance every f32 dot product
 * must meet against a double-precision reference. */
#ifndef CF_TESTS_KREF_H
#define CF_TESTS_KREF_H

#include <stdint.h>
#include <stdlib.h>

#include "kernels/dispatch.h"

/* Unit roundoff of f32. A sum of K products computed in f32 (any order, FMA or not) differs from
 * the exact sum by at most K * u * sum|a_k b_k| (Higham, Accuracy and Stability, 3.1). */
#define F32_U 5.960464477539063e-08

static inline double dot_tolerance(int64_t K, double abs_sum) { return (double)(K + 2) * F32_U * abs_sum + 1e-30; }

/* Uniform in [-scale, scale), from a fixed LCG so every run sees the same data. */
static inline void fill_random(float *p, size_t n, uint32_t seed, float scale)
{
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = scale * ((float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
    }
}

static inline float *random_floats(size_t n, uint32_t seed, float scale)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    fill_random(p, n, seed, scale);
    return p;
}

/* The ISAs this CPU can run, portable first. */
static inline int supported_isas(cf_isa out[3])
{
    int n = 0;
    for (int i = CF_ISA_PORTABLE; i <= (int)cf_cpu_best_isa(); i++)
        out[n++] = (cf_isa)i;
    return n;
}

#endif
