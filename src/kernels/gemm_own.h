/* The kernels layer's own single-threaded f32 GEMM (packed panels, register-blocked FMA
 * micro-kernel). cf_gemm_f32 splits work across the pool and calls this per block. */
#ifndef CF_KERNELS_GEMM_OWN_H
#define CF_KERNELS_GEMM_OWN_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* True when the CPU (and the forced ISA) can run the own GEMM. */
bool cf_gemm_own_available(void);

/* Same contract as cf_gemm_f32, on the calling thread only. */
void cf_gemm_own_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* AVX-512 pieces (gemm_avx512.c). Panels are CF_GEMM_PANEL columns wide, K rows each, 64-byte aligned. */
#define CF_GEMM_PANEL 48
bool cf_gemm_own_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void cf_gemm_pack_panels_avx512(bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb, float *panels);
/* Columns [j0, j1) of C from prepacked panels (j0 a multiple of CF_GEMM_PANEL), then + bias[j] (bias may
 * be NULL) and the activation on each finished tile; false when scratch is short. */
bool cf_gemm_packed_avx512(bool trans_a, int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *panels, float beta, float *C, int64_t ldc, const float *bias,
                           cf_act act);
void cf_matvec_packed_avx512(const float *panels, const float *x, const float *bias, float *y, int64_t K, int64_t j0,
                             int64_t j1);

#endif
