/* Per-thread scratch buffers for kernels: grown on demand, reused across calls, freed when the
 * thread exits. No malloc on the hot path once a buffer has reached its working size. */
#ifndef CF_KERNELS_SCRATCH_H
#define CF_KERNELS_SCRATCH_H

#include <stddef.h>

enum { CF_SCRATCH_ATTN_SCORES = 0, CF_SCRATCH_GEMM_A, CF_SCRATCH_GEMM_B, CF_SCRATCH_LOWP_A, CF_SCRATCH_SLOTS };

/* At least n floats, 64-byte aligned, for this thread and slot; NULL if out of memory. */
float *cf_scratch_f32(int slot, size_t n);

#endif
