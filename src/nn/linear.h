/* A linear layer's weights in the layout the kernels want, converted once at load. */
#ifndef CF_NN_LINEAR_H
#define CF_NN_LINEAR_H

#include <stdint.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"

typedef struct cf_linear {
    int64_t n_in, n_out;
    float *w;    /* [n_out, n_in] row-major (torch nn.Linear layout) */
    float *bias; /* [n_out] or NULL */
    bool owns_w, owns_bias;
    cf_gemm_packed packed; /* w packed once for the GEMM/matvec kernels (reads w where no packed kernel) */
} cf_linear;

/* Load "<prefix>.weight" [n_out, n_in] and "<prefix>.bias" (required when has_bias). */
cf_status cf_linear_load(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in, int64_t n_out,
                         bool has_bias, cf_error *err);
/* GPT-2 Conv1D: weight stored [n_in, n_out]; transposed once here. */
cf_status cf_linear_load_conv1d(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in,
                                int64_t n_out, cf_error *err);
/* A layer over weights built by the caller (e.g. a fused QKV): takes ownership of the malloc'ed w
 * [n_out, n_in] and bias (may be NULL) and packs w. On failure both are freed. */
cf_status cf_linear_init_owned(cf_linear *l, float *w, float *bias, int64_t n_in, int64_t n_out, cf_error *err);
void cf_linear_free(cf_linear *l);

/* y[M, n_out] = x[M, n_in] W^T + b. A layer filled in by hand (no pack) uses the plain kernels. */
void cf_linear_forward(const cf_linear *l, const float *x, int64_t M, float *y);

#endif
