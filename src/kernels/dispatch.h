/* CPU feature dispatch inside the kernels layer: which instruction set the kernels use, and the
 * per-ISA entry points. Tests force each path through cf_kernels_force_isa. */
#ifndef CF_KERNELS_DISPATCH_H
#define CF_KERNELS_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

typedef enum cf_isa { CF_ISA_PORTABLE = 0, CF_ISA_AVX2, CF_ISA_AVX512 } cf_isa;

/* Best instruction set this CPU supports (detected once). */
cf_isa cf_cpu_best_isa(void);
/* AVX-512 BF16 and VNNI (vdpbf16ps, vpdpbusd): the bf16/int8 kernels' widest path. */
bool cf_cpu_has_avx512_bf16_vnni(void);
/* The instruction set kernels use now: the forced one, else the best. */
cf_isa cf_kernels_isa(void);
/* Use `isa` (clamped to what the CPU supports) for every later call; returns the ISA now in use. */
cf_isa cf_kernels_force_isa(cf_isa isa);
const char *cf_isa_name(cf_isa isa);

/* Make BLAS single-threaded (once): it runs inside our pool's tasks, so there is never a second
 * set of threads competing for the cores. Every cblas call site calls this first. */
void cf_blas_single_threaded(void);

/* Which GEMM implementation cf_gemm_f32 uses for its per-thread blocks. */
typedef enum cf_gemm_impl { CF_GEMM_AUTO = 0, CF_GEMM_BLAS, CF_GEMM_OWN } cf_gemm_impl;
void cf_gemm_force_impl(cf_gemm_impl impl);
cf_gemm_impl cf_gemm_current_impl(void); /* resolved: CF_GEMM_BLAS or CF_GEMM_OWN */
cf_gemm_impl cf_gemm_forced_impl(void);  /* as set, CF_GEMM_AUTO when not forced */

/* y[r] = dot(W[r, :K], x) + (bias ? bias[r] : 0) for r in [r0, r1). */
typedef void (*cf_matvec_rows_fn)(const float *W, const float *x, const float *bias, float *y, int64_t K,
                                  int64_t r0, int64_t r1);
void cf_matvec_rows_portable(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                             int64_t r1);
void cf_matvec_rows_avx2(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                         int64_t r1);
void cf_matvec_rows_avx512(const float *W, const float *x, const float *bias, float *y, int64_t K, int64_t r0,
                           int64_t r1);

#endif
