#include "nn/conv1d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "core/threadpool.h"

/* Output steps per im2col tile: big enough for an efficient GEMM, small enough for the cache. */
#define CONV1D_TILE_STEPS 1024

static cf_status check_spec(const cf_conv1d_spec *s, const char *prefix, cf_error *err)
{
    if (s->in_ch <= 0 || s->out_ch <= 0 || s->kernel <= 0 || s->stride <= 0 || s->pad < 0 || s->groups <= 0 ||
        s->in_ch % s->groups || s->out_ch % s->groups)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: invalid 1-D convolution (in %lld, out %lld, kernel %d, stride %d, padding %d, groups %d)",
                       prefix, (long long)s->in_ch, (long long)s->out_ch, s->kernel, s->stride, s->pad, s->groups);
    return CF_OK;
}

/* torch [out, in/groups, kernel] -> [out, kernel, in/groups] (groups stay in output order). */
static void reorder_weight(cf_conv1d *c, const float *src)
{
    int64_t cg = c->spec.in_ch / c->spec.groups, K = c->spec.kernel;
    for (int64_t o = 0; o < c->spec.out_ch; o++)
        for (int64_t i = 0; i < cg; i++)
            for (int64_t k = 0; k < K; k++)
                c->w[(o * K + k) * cg + i] = src[(o * cg + i) * K + k];
}

static cf_status load_bias(cf_conv1d *c, const cf_safetensors *st, const char *prefix, cf_error *err)
{
    if (!c->spec.has_bias)
        return CF_OK;
    char name[512];
    snprintf(name, sizeof name, "%s.bias", prefix);
    return cf_st_get_f32(st, name, 1, &c->spec.out_ch, &c->bias, err);
}

static cf_status take_weight(cf_conv1d *c, const float *torch_w, const char *prefix, cf_error *err)
{
    size_t n = (size_t)(c->spec.out_ch * (c->spec.in_ch / c->spec.groups) * c->spec.kernel);
    c->w = malloc(n * sizeof(float));
    if (!c->w)
        return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate %zu convolution weights", prefix, n);
    reorder_weight(c, torch_w);
    return CF_OK;
}

cf_status cf_conv1d_load(cf_conv1d *c, const cf_safetensors *st, const char *prefix, const cf_conv1d_spec *spec,
                         cf_error *err)
{
    *c = (cf_conv1d){.spec = *spec};
    CF_TRY(check_spec(spec, prefix, err));
    char name[512];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int64_t shape[3] = {spec->out_ch, spec->in_ch / spec->groups, spec->kernel};
    float *raw = NULL;
    CF_TRY(cf_st_get_f32(st, name, 3, shape, &raw, err));
    cf_status s = take_weight(c, raw, prefix, err);
    free(raw);
    if (s == CF_OK)
        s = load_bias(c, st, prefix, err);
    if (s != CF_OK)
        cf_conv1d_free(c);
    return s;
}

/* The axis of v that g spans (g has size 1 elsewhere); -1 when g is a single scale. */
static int norm_axis(const cf_tensor *g, const int64_t v_shape[3], const char *name, int *axis, cf_error *err)
{
    *axis = -1;
    if (cf_tensor_numel(g) == 1)
        return CF_OK;
    if (g->ndim != 3)
        return cf_fail(err, CF_ERR_SHAPE, "%s: weight norm scale has %d dims, the weight has 3", name, g->ndim);
    for (int d = 0; d < 3; d++) {
        if (g->shape[d] == 1)
            continue;
        if (*axis >= 0 || g->shape[d] != v_shape[d])
            return cf_fail(err, CF_ERR_SHAPE, "%s: weight norm scale shape does not match the weight along one axis",
                           name);
        *axis = d;
    }
    return CF_OK;
}

/* w = g * v / ||v||, norms over all axes except `axis` (all axes when -1), in double. */
static void apply_weight_norm(float *v, const float *g, const int64_t shape[3], int axis)
{
    int64_t n = shape[0] * shape[1] * shape[2];
    int64_t groups = axis < 0 ? 1 : shape[axis];
    int64_t inner = 1;
    for (int d = axis + 1; d < 3 && axis >= 0; d++)
        inner *= shape[d];
    double *sq = calloc((size_t)groups, sizeof *sq);
    if (!sq)
        return;
    for (int64_t i = 0; i < n; i++)
        sq[axis < 0 ? 0 : (i / inner) % groups] += (double)v[i] * v[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t k = axis < 0 ? 0 : (i / inner) % groups;
        v[i] = (float)((double)g[k] * v[i] / sqrt(sq[k]));
    }
    free(sq);
}

cf_status cf_conv1d_load_weight_norm(cf_conv1d *c, const cf_safetensors *st, const char *prefix,
                                     const cf_conv1d_spec *spec, cf_error *err)
{
    *c = (cf_conv1d){.spec = *spec};
    CF_TRY(check_spec(spec, prefix, err));
    char gname[512], vname[512];
    snprintf(gname, sizeof gname, "%s.weight_g", prefix);
    snprintf(vname, sizeof vname, "%s.weight_v", prefix);
    if (!cf_st_find(st, gname)) {
        snprintf(gname, sizeof gname, "%s.parametrizations.weight.original0", prefix);
        snprintf(vname, sizeof vname, "%s.parametrizations.weight.original1", prefix);
        if (!cf_st_find(st, gname))
            return cf_fail(err, CF_ERR_NOT_FOUND,
                           "model.safetensors: no weight-normalised convolution '%s' (looked for %s.weight_g and "
                           "%s.parametrizations.weight.original0)", prefix, prefix, prefix);
    }
    int64_t shape[3] = {spec->out_ch, spec->in_ch / spec->groups, spec->kernel};
    const cf_tensor *gt = cf_st_find(st, gname);
    int axis;
    CF_TRY(norm_axis(gt, shape, gname, &axis, err));
    float *v = NULL, *g = NULL;
    CF_TRY(cf_st_get_f32(st, vname, 3, shape, &v, err));
    int64_t any[CF_MAX_DIMS] = {-1, -1, -1, -1};
    cf_status s = cf_st_get_f32(st, gname, gt->ndim, any, &g, err);
    if (s == CF_OK) {
        apply_weight_norm(v, g, shape, axis);
        s = take_weight(c, v, prefix, err);
    }
    free(v);
    free(g);
    if (s == CF_OK)
        s = load_bias(c, st, prefix, err);
    if (s != CF_OK)
        cf_conv1d_free(c);
    return s;
}

void cf_conv1d_free(cf_conv1d *c)
{
    free(c->w);
    free(c->bias);
    c->w = c->bias = NULL;
}

int64_t cf_conv1d_out_len(const cf_conv1d *c, int64_t T)
{
    int64_t span = T + 2 * c->spec.pad - c->spec.kernel;
    return span < 0 ? 0 : span / c->spec.stride + 1;
}

static int64_t tile_steps(const cf_conv1d *c, int64_t T)
{
    int64_t n = cf_conv1d_out_len(c, T);
    return n < CONV1D_TILE_STEPS ? n : CONV1D_TILE_STEPS;
}

size_t cf_conv1d_scratch_bytes(const cf_conv1d *c, int64_t T)
{
    size_t cols = (size_t)tile_steps(c, T) * (size_t)c->spec.kernel * (size_t)(c->spec.in_ch / c->spec.groups);
    return (cols * sizeof(float) + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

typedef struct im2col_job {
    const cf_conv1d *c;
    const float *x;
    int64_t T, t0, group;
    float *cols;
} im2col_job;

/* cols[r] = the kernel window of output step t0 + r: kernel rows of the group's input channels. */
static void im2col_rows(void *ctx, int64_t begin, int64_t end)
{
    const im2col_job *j = ctx;
    const cf_conv1d_spec *s = &j->c->spec;
    int64_t cg = s->in_ch / s->groups, K = s->kernel, row = K * cg;
    for (int64_t r = begin; r < end; r++) {
        int64_t start = (j->t0 + r) * s->stride - s->pad;
        float *dst = j->cols + r * row;
        for (int64_t k = 0; k < K; k++) {
            int64_t t = start + k;
            if (t < 0 || t >= j->T)
                memset(dst + k * cg, 0, (size_t)cg * sizeof(float));
            else
                memcpy(dst + k * cg, j->x + t * s->in_ch + j->group * cg, (size_t)cg * sizeof(float));
        }
    }
}

void cf_conv1d_forward(const cf_conv1d *c, const float *x, int64_t T, float *y, cf_arena *scratch)
{
    const cf_conv1d_spec *s = &c->spec;
    int64_t n_out = cf_conv1d_out_len(c, T), cg = s->in_ch / s->groups, og = s->out_ch / s->groups;
    int64_t row = (int64_t)s->kernel * cg, tile = tile_steps(c, T);
    if (n_out == 0)
        return;
    size_t mark = cf_arena_mark(scratch);
    float *cols = cf_arena_floats(scratch, (size_t)(tile * row));
    for (int64_t t0 = 0; t0 < n_out; t0 += tile) {
        int64_t rows = n_out - t0 < tile ? n_out - t0 : tile;
        for (int64_t g = 0; g < s->groups; g++) {
            im2col_job job = {.c = c, .x = x, .T = T, .t0 = t0, .group = g, .cols = cols};
            cf_parallel_for(rows, 64, im2col_rows, &job);
            cf_gemm_f32(false, true, rows, og, row, 1.0f, cols, row, c->w + g * og * row, row, 0.0f,
                        y + t0 * s->out_ch + g * og, s->out_ch);
        }
    }
    if (c->bias)
        cf_add_row_bias(y, c->bias, n_out, s->out_ch);
    cf_arena_rewind(scratch, mark);
}
