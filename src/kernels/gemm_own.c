/* Dispatch for the own GEMM: an AVX-512 micro-kernel; other CPUs (or a forced narrower ISA)
 * use BLAS for their blocks. */
#include "kernels/gemm_own.h"

#include <cblas.h>

#include "kernels/dispatch.h"

bool cf_gemm_own_available(void) { return cf_kernels_isa() == CF_ISA_AVX512; }

void cf_gemm_own_f32(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (cf_gemm_own_available() &&
        cf_gemm_own_avx512(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    /* No AVX-512, or no memory for the packing buffers: BLAS needs neither. */
    cf_blas_single_threaded();
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)M,
                (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
