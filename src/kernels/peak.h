/* AVX-512 loops behind cf_measure_read_gbs / cf_measure_peak_gflops (peak.c). */
#ifndef CF_KERNELS_PEAK_H
#define CF_KERNELS_PEAK_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* Sum of n words, read with 64-byte loads. */
uint64_t cf_read_sum_avx512(const uint64_t *p, size_t n);
/* Run `iters` rounds of independent multiply-adds of type t in registers; returns the flops done. */
uint64_t cf_peak_loop_avx512(cf_wtype t, int64_t iters);

#endif
