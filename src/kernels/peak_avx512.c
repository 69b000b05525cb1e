/* Register-only multiply-add loops (12 independent chains hide the latency) and a 64-byte
 * streaming read, for the machine limits the benchmarks print. */
#include <immintrin.h>

#include "kernels/peak.h"

uint64_t cf_read_sum_avx512(const uint64_t *p, size_t n)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm512_add_epi64(a, _mm512_loadu_si512(p + i));
        b = _mm512_add_epi64(b, _mm512_loadu_si512(p + i + 8));
        c = _mm512_add_epi64(c, _mm512_loadu_si512(p + i + 16));
        d = _mm512_add_epi64(d, _mm512_loadu_si512(p + i + 24));
    }
    uint64_t s = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
    for (; i < n; i++)
        s += p[i];
    return s;
}

#define CHAINS 12

/* acc[c] = OP(acc[c], ...) for CHAINS independent chains, `iters` times; then fold into a sink. */
#define PEAK_LOOP(type, init, op, fold)                                                                              \
    do {                                                                                                             \
        type acc[CHAINS];                                                                                            \
        _Pragma("GCC unroll 12") for (int c = 0; c < CHAINS; c++) {                                                  \
            acc[c] = init;                                                                                           \
            __asm__ volatile("" : "+v"(acc[c])); /* chains the compiler cannot prove equal */                       \
        }                                                                                           \
        for (int64_t i = 0; i < iters; i++) {                                                                        \
            _Pragma("GCC unroll 12") for (int c = 0; c < CHAINS; c++)                                                \
                acc[c] = op;                                                                                         \
            __asm__ volatile("" : "+v"(xf), "+v"(xi)); /* opaque inputs: the loop must run */                      \
        }                                                                                                            \
        for (int c = 1; c < CHAINS; c++)                                                                             \
            acc[0] = fold;                                                                                           \
        __asm__ volatile("" : : "v"(acc[0]));                                                                        \
    } while (0)

uint64_t cf_peak_loop_avx512(cf_wtype t, int64_t iters)
{
    __m512 xf = _mm512_set1_ps(0.999f);
    __m512i xi = _mm512_set1_epi32(0x01010101);
    if (t == CF_WTYPE_BF16)
        PEAK_LOOP(__m512, xf, _mm512_dpbf16_ps(acc[c], (__m512bh)xi, (__m512bh)xi), _mm512_add_ps(acc[0], acc[c]));
    else if (t == CF_WTYPE_INT8)
        PEAK_LOOP(__m512i, xi, _mm512_dpbusd_epi32(acc[c], xi, xi), _mm512_add_epi32(acc[0], acc[c]));
    else
        PEAK_LOOP(__m512, xf, _mm512_fmadd_ps(acc[c], xf, xf), _mm512_add_ps(acc[0], acc[c]));
    int per = t == CF_WTYPE_INT8 ? 64 : t == CF_WTYPE_BF16 ? 32 : 16; /* multiply-adds per instruction */
    return (uint64_t)iters * CHAINS * (uint64_t)per * 2;
}
