/* Linear layers: y = x W^T + b with W in torch's [n_out, n_in] layout. F32 weights stay views into
 * the mmapped checkpoint; other dtypes and GPT-2's transposed Conv1D weights are converted once here.
 * Under a bf16/int8 load option the weights are packed straight from the checkpoint (a bf16
 * checkpoint loaded as bf16 is never widened to f32) and the f32 copy is not kept. */
#include "nn/linear.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "nn/activation.h"

#define NAME_MAX_LEN 512

static _Thread_local cf_load_options t_options;

cf_load_options cf_linear_set_load_options(cf_load_options o)
{
    cf_load_options old = t_options;
    t_options = o;
    return old;
}

cf_load_options cf_linear_load_options(void) { return t_options; }

cf_wtype cf_linear_wtype_for(int64_t n_in, int64_t n_out)
{
    cf_wtype t = t_options.dtype;
    int64_t min_dim = t_options.lowp_min_dim > 0 ? t_options.lowp_min_dim : CF_LINEAR_LOWP_MIN;
    if (n_in < min_dim || n_out < min_dim)
        return CF_WTYPE_F32;
    if (t == CF_WTYPE_INT8 && n_in > CF_LOWP_INT8_MAX_K)
        return CF_WTYPE_BF16; /* the int32 sums could overflow; bf16 is the next best */
    return t;
}

/* Pack the weight tensor `t` (element [n, k] at n*stride_n + k*stride_k) as `type`. */
static cf_status pack_lowp(cf_linear *l, cf_wtype type, const cf_safetensors *st, const char *name, const cf_tensor *t,
                           int64_t stride_n, int64_t stride_k, cf_error *err)
{
    cf_status s;
    if (t->dtype == CF_DTYPE_BF16 && type == CF_WTYPE_BF16) {
        s = cf_lowp_pack_bf16_bits(&l->lowp, t->data, l->n_out, l->n_in, stride_n, stride_k, err);
    } else if (t->dtype == CF_DTYPE_F32) {
        s = cf_lowp_pack_f32(&l->lowp, type, t->data, l->n_out, l->n_in, stride_n, stride_k, err);
    } else {
        float *f;
        CF_TRY(cf_st_get_f32(st, name, t->ndim, t->shape, &f, err));
        s = cf_lowp_pack_f32(&l->lowp, type, f, l->n_out, l->n_in, stride_n, stride_k, err);
        free(f);
    }
    return s == CF_OK ? CF_OK : cf_error_prefix(err, "tensor '%s': ", name);
}

static cf_status tensor_name(char *buf, const char *prefix, const char *suffix, cf_error *err)
{
    int n = snprintf(buf, NAME_MAX_LEN, "%s.%s", prefix, suffix);
    if (n < 0 || n >= NAME_MAX_LEN)
        return cf_fail(err, CF_ERR_INVALID_ARG, "tensor name '%s.%s' is longer than %d bytes", prefix, suffix,
                       NAME_MAX_LEN - 1);
    return CF_OK;
}

/* An f32 view of a checked tensor when it already is f32, else a converted copy the caller owns. */
static cf_status load_f32(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape, float **out,
                          bool *owned, cf_error *err)
{
    const cf_tensor *t;
    CF_TRY(cf_st_get(st, name, ndim, shape, &t, err));
    if (t->dtype == CF_DTYPE_F32) {
        *out = t->data;
        *owned = false;
        return CF_OK;
    }
    CF_TRY(cf_st_get_f32(st, name, ndim, shape, out, err));
    *owned = true;
    return CF_OK;
}

static cf_status check_dims(const char *prefix, int64_t n_in, int64_t n_out, cf_error *err)
{
    if (n_in <= 0 || n_out <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "linear layer '%s': sizes must be positive (n_in=%lld, n_out=%lld)",
                       prefix, (long long)n_in, (long long)n_out);
    return CF_OK;
}

/* y = x W^T reads W^T [n_in, n_out]: pack that once for the kernels. */
static cf_status pack_weight(cf_linear *l, const char *name, cf_error *err)
{
    cf_status s = cf_gemm_pack_b(&l->packed, true, l->n_in, l->n_out, l->w, l->n_in, err);
    return s == CF_OK ? CF_OK : cf_error_prefix(err, "tensor '%s': ", name);
}

static cf_status load_bias(cf_linear *l, const cf_safetensors *st, const char *prefix, cf_error *err)
{
    char name[NAME_MAX_LEN];
    CF_TRY(tensor_name(name, prefix, "bias", err));
    int64_t shape[1] = {l->n_out};
    return load_f32(st, name, 1, shape, &l->bias, &l->owns_bias, err);
}

/* An empty layer of the given shape and the name of its weight tensor. */
static cf_status begin_load(cf_linear *l, const char *prefix, int64_t n_in, int64_t n_out, char name[NAME_MAX_LEN],
                            cf_error *err)
{
    memset(l, 0, sizeof *l);
    CF_TRY(check_dims(prefix, n_in, n_out, err));
    l->n_in = n_in;
    l->n_out = n_out;
    return tensor_name(name, prefix, "weight", err);
}

cf_status cf_linear_load(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in, int64_t n_out,
                         bool has_bias, cf_error *err)
{
    char name[NAME_MAX_LEN];
    CF_TRY(begin_load(l, prefix, n_in, n_out, name, err));
    int64_t shape[2] = {n_out, n_in};
    cf_wtype type = cf_linear_wtype_for(n_in, n_out);
    cf_status s;
    if (type != CF_WTYPE_F32) {
        const cf_tensor *t;
        CF_TRY(cf_st_get(st, name, 2, shape, &t, err));
        s = pack_lowp(l, type, st, name, t, n_in, 1, err);
    } else {
        CF_TRY(load_f32(st, name, 2, shape, &l->w, &l->owns_w, err));
        s = pack_weight(l, name, err);
    }
    if (s == CF_OK && has_bias)
        s = load_bias(l, st, prefix, err);
    if (s != CF_OK)
        cf_linear_free(l);
    return s;
}

/* dst[c, r] = src[r, c] for src [rows, cols], in cache-sized tiles. */
static void transpose(const float *src, float *dst, int64_t rows, int64_t cols)
{
    enum { TILE = 32 };
    for (int64_t r0 = 0; r0 < rows; r0 += TILE)
        for (int64_t c0 = 0; c0 < cols; c0 += TILE) {
            int64_t r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++)
                    dst[c * rows + r] = src[r * cols + c];
        }
}

cf_status cf_linear_load_conv1d(cf_linear *l, const cf_safetensors *st, const char *prefix, int64_t n_in,
                                int64_t n_out, cf_error *err)
{
    char name[NAME_MAX_LEN];
    CF_TRY(begin_load(l, prefix, n_in, n_out, name, err));
    int64_t shape[2] = {n_in, n_out};
    cf_wtype type = cf_linear_wtype_for(n_in, n_out);
    if (type != CF_WTYPE_F32) {
        const cf_tensor *t;
        CF_TRY(cf_st_get(st, name, 2, shape, &t, err));
        cf_status s = pack_lowp(l, type, st, name, t, 1, n_out, err);
        if (s == CF_OK)
            s = load_bias(l, st, prefix, err);
        if (s != CF_OK)
            cf_linear_free(l);
        return s;
    }
    float *stored;
    bool stored_owned;
    CF_TRY(load_f32(st, name, 2, shape, &stored, &stored_owned, err));
    l->w = malloc((size_t)(n_in * n_out) * sizeof(float));
    if (!l->w) {
        if (stored_owned)
            free(stored);
        return cf_fail(err, CF_ERR_NOMEM, "tensor '%s': cannot allocate %lld floats for its transpose", name,
                       (long long)(n_in * n_out));
    }
    l->owns_w = true;
    transpose(stored, l->w, n_in, n_out);
    if (stored_owned)
        free(stored);
    cf_status s = load_bias(l, st, prefix, err);
    if (s == CF_OK)
        s = pack_weight(l, name, err);
    if (s != CF_OK)
        cf_linear_free(l);
    return s;
}

cf_status cf_linear_init_owned(cf_linear *l, float *w, float *bias, int64_t n_in, int64_t n_out, cf_error *err)
{
    *l = (cf_linear){.n_in = n_in, .n_out = n_out, .w = w, .bias = bias, .owns_w = true, .owns_bias = bias != NULL};
    cf_status s = check_dims("(built in memory)", n_in, n_out, err);
    cf_wtype type = s == CF_OK ? cf_linear_wtype_for(n_in, n_out) : CF_WTYPE_F32;
    if (s == CF_OK && type != CF_WTYPE_F32) {
        s = cf_lowp_pack_f32(&l->lowp, type, w, n_out, n_in, n_in, 1, err);
        if (s == CF_OK) {
            free(w);
            l->w = NULL;
            l->owns_w = false;
        }
    } else if (s == CF_OK) {
        s = pack_weight(l, "(built in memory)", err);
    }
    if (s != CF_OK) {
        free(w), free(bias);
        memset(l, 0, sizeof *l);
    }
    return s;
}

cf_status cf_linear_init_view(cf_linear *l, const float *w, const float *bias, int64_t n_in, int64_t n_out,
                              cf_error *err)
{
    *l = (cf_linear){.n_in = n_in, .n_out = n_out, .w = (float *)w, .bias = (float *)bias};
    CF_TRY(check_dims("(view)", n_in, n_out, err));
    cf_wtype type = cf_linear_wtype_for(n_in, n_out);
    if (type == CF_WTYPE_F32)
        return CF_OK; /* no pack: a tied table is large and the plain kernels read it as it is */
    cf_status s = cf_lowp_pack_f32(&l->lowp, type, w, n_out, n_in, n_in, 1, err);
    if (s != CF_OK)
        memset(l, 0, sizeof *l);
    else
        l->w = NULL;
    return s;
}

cf_status cf_linear_init_view_packed(cf_linear *l, const float *w, const float *bias, int64_t n_in, int64_t n_out,
                                     cf_error *err)
{
    CF_TRY(cf_linear_init_view(l, w, bias, n_in, n_out, err));
    if (!l->w) /* bf16/int8: packed already */
        return CF_OK;
    cf_status s = pack_weight(l, "(view)", err);
    if (s != CF_OK)
        cf_linear_free(l);
    return s;
}

void cf_linear_free(cf_linear *l)
{
    if (!l)
        return;
    if (l->owns_w)
        free(l->w);
    if (l->owns_bias)
        free(l->bias);
    cf_gemm_packed_free(&l->packed);
    cf_lowp_free(&l->lowp);
    memset(l, 0, sizeof *l);
}

static void f32_forward(const cf_linear *l, const float *x, int64_t M, float *y, cf_act act)
{
    bool packed = l->packed.b == l->w && l->packed.K == l->n_in && l->packed.N == l->n_out;
    if (packed && M > 1) {
        cf_gemm_f32_packed_bias_act(M, x, l->n_in, &l->packed, l->bias, act, y, l->n_out);
        return;
    }
    if (M == 1) {
        if (packed)
            cf_matvec_f32_packed(&l->packed, x, l->bias, y);
        else
            cf_matvec_f32(l->w, x, l->bias, y, l->n_out, l->n_in);
    } else {
        cf_gemm_f32(false, true, M, l->n_out, l->n_in, 1.0f, x, l->n_in, l->w, l->n_in, 0.0f, y, l->n_out);
        if (l->bias)
            cf_add_row_bias(y, l->bias, M, l->n_out);
    }
    if (act != CF_ACT_NONE)
        cf_act_span(act, y, M * l->n_out);
}

void cf_linear_forward(const cf_linear *l, const float *x, int64_t M, float *y)
{
    cf_linear_forward_act(l, x, M, y, CF_ACT_NONE);
}

void cf_linear_forward_act(const cf_linear *l, const float *x, int64_t M, float *y, cf_act act)
{
    if (M <= 0)
        return;
    if (act == CF_ACT_TANH) { /* not a kernel epilogue: a pass of its own */
        cf_linear_forward_act(l, x, M, y, CF_ACT_NONE);
        cf_activation_apply(act, y, M * l->n_out);
        return;
    }
    if (l->lowp.panels) {
        cf_lowp_linear(&l->lowp, x, M, l->n_in, l->bias, act, y, l->n_out);
        return;
    }
    f32_forward(l, x, M, y, act);
}
