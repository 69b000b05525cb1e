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
    cf_lowp_weights lowp;  /* bf16/int8 weights when loaded with that dtype (then w is NULL) */
} cf_linear;

/* How layers are loaded. Set per thread around a model load (cf_linear_set_load_options), so
 * model files never see the dtype: every cf_linear_load* on this thread follows it. Layers too
 * small to matter (fewer than CF_LINEAR_LOWP_MIN outputs or inputs, e.g. 2-label heads) stay f32. */
typedef struct cf_load_options {
    cf_wtype dtype;
    int64_t lowp_min_dim; /* 0 = CF_LINEAR_LOWP_MIN; 1 converts every layer (accuracy studies) */
} cf_load_options;
#define CF_LINEAR_LOWP_MIN 32
/* Use `o` for layers loaded by this thread from now on; returns the previous options to restore. */
cf_load_options cf_linear_set_load_options(cf_load_options o);
cf_load_options cf_linear_load_options(void);
/* The storage type a layer of this shape gets under the current options. */
cf_wtype cf_linear_wtype_for(int64_t n_in, int64_t n_out);

/* Load "<prefix>.weight" [n_out, n_in] and "<prefix>.bias" (required when has_bias). */
cf_status cf_linear_load(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in, int64_t n_out,
                         bool has_bias, cf_error *err);
/* GPT-2 Conv1D: weight stored [n_in, n_out]; transposed once here. */
cf_status cf_linear_load_conv1d(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in,
                                int64_t n_out, cf_error *err);
/* A layer over weights built by the caller (e.g. a fused QKV): takes ownership of the malloc'ed w
 * [n_out, n_in] and bias (may be NULL) and packs w. On failure both are freed. */
cf_status cf_linear_init_owned(cf_linear *l, float *w, float *bias, int64_t n_in, int64_t n_out, cf_error *err);
/* A layer over weights that stay the caller's (e.g. a tied lm_head over the embedding table):
 * f32 keeps a view of w; bf16/int8 packs a converted copy. bias may be NULL and stays a view. */
cf_status cf_linear_init_view(cf_linear *l, const float *w, const float *bias, int64_t n_in, int64_t n_out,
                              cf_error *err);
/* As cf_linear_init_view, but an f32 layer also packs w's panels (a copy of w's size) so every
 * call takes the packed matvec/GEMM: for an output projection run at every decoding step. */
cf_status cf_linear_init_view_packed(cf_linear *l, const float *w, const float *bias, int64_t n_in, int64_t n_out,
                                     cf_error *err);
void cf_linear_free(cf_linear *l);

/* y[M, n_out] = x[M, n_in] W^T + b. A layer filled in by hand (no pack) uses the plain kernels. */
void cf_linear_forward(const cf_linear *l, const float *x, int64_t M, float *y);
/* y = act(x W^T + b) for any cf_activation: the kernels' activations run on each output tile in
 * registers (packed GEMMs), the others as a pass over y. */
void cf_linear_forward_act(const cf_linear *l, const float *x, int64_t M, float *y, cf_act act);

#endif
