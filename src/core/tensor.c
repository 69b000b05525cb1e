#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} k_dtypes[CF_DTYPE_COUNT] = {
    [CF_DTYPE_F32] = {"F32", 4}, [CF_DTYPE_F16] = {"F16", 2}, [CF_DTYPE_BF16] = {"BF16", 2},
    [CF_DTYPE_I64] = {"I64", 8}, [CF_DTYPE_I32] = {"I32", 4}, [CF_DTYPE_I8] = {"I8", 1},
    [CF_DTYPE_U8] = {"U8", 1},   [CF_DTYPE_BOOL] = {"BOOL", 1}, [CF_DTYPE_F64] = {"F64", 8},
};

size_t cf_dtype_size(cf_dtype dtype) { return (unsigned)dtype < CF_DTYPE_COUNT ? k_dtypes[dtype].size : 0; }

const char *cf_dtype_name(cf_dtype dtype)
{
    return (unsigned)dtype < CF_DTYPE_COUNT ? k_dtypes[dtype].name : "?";
}

bool cf_dtype_from_name(const char *name, cf_dtype *out)
{
    for (int i = 0; i < CF_DTYPE_COUNT; i++) {
        if (strcmp(name, k_dtypes[i].name) == 0) {
            *out = (cf_dtype)i;
            return true;
        }
    }
    return false;
}

int64_t cf_tensor_numel(const cf_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->shape[i];
    return n;
}

size_t cf_tensor_nbytes(const cf_tensor *t) { return (size_t)cf_tensor_numel(t) * cf_dtype_size(t->dtype); }

cf_tensor cf_tensor_view(cf_dtype dtype, int ndim, const int64_t *shape, void *data)
{
    cf_tensor t = {.dtype = dtype, .ndim = ndim, .data = data, .owned = false};
    for (int i = 0; i < ndim && i < CF_MAX_DIMS; i++)
        t.shape[i] = shape[i];
    return t;
}

cf_status cf_tensor_alloc(cf_tensor *t, cf_dtype dtype, int ndim, const int64_t *shape, cf_error *err)
{
    if (ndim < 0 || ndim > CF_MAX_DIMS)
        return cf_fail(err, CF_ERR_INVALID_ARG, "tensor rank %d is outside 0..%d", ndim, CF_MAX_DIMS);
    *t = cf_tensor_view(dtype, ndim, shape, NULL);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "negative tensor dimension %lld", (long long)shape[i]);
    size_t n = cf_tensor_nbytes(t);
    t->data = calloc(n ? n : 1, 1);
    if (!t->data)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate a tensor of %zu bytes", n);
    t->owned = true;
    return CF_OK;
}

void cf_tensor_free(cf_tensor *t)
{
    if (t && t->owned)
        free(t->data);
    if (t) {
        t->data = NULL;
        t->owned = false;
    }
}

const char *cf_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, size - off, "[");
    for (int i = 0; i < ndim && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
}

bool cf_shape_equal(const cf_tensor *t, int ndim, const int64_t *shape)
{
    if (t->ndim != ndim)
        return false;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i])
            return false;
    return true;
}

float cf_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float cf_bf16_to_f32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cf_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) /* NaN stays a quiet NaN */
        return (uint16_t)((bits >> 16) | 0x40);
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)((bits + rounding) >> 16);
}

uint16_t cf_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u)
        return (uint16_t)(sign | 0x7e00);
    if (absx >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* subnormal or zero in f16 */
        float a;
        memcpy(&a, &absx, 4);
        uint32_t m = (uint32_t)lrintf(a * 16777216.0f); /* a / 2^-24, round to nearest even */
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

cf_status cf_tensor_to_f32(const cf_tensor *t, float *dst, cf_error *err)
{
    int64_t n = cf_tensor_numel(t);
    const void *src = t->data;
    switch (t->dtype) {
    case CF_DTYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case CF_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = cf_f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case CF_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = cf_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case CF_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        break;
    case CF_DTYPE_I64:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int64_t *)src)[i];
        break;
    case CF_DTYPE_I32:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i];
        break;
    case CF_DTYPE_I8:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const int8_t *)src)[i];
        break;
    case CF_DTYPE_U8:
    case CF_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++) dst[i] = (float)((const uint8_t *)src)[i];
        break;
    default: return cf_fail(err, CF_ERR_UNSUPPORTED, "cannot convert dtype %s to F32", cf_dtype_name(t->dtype));
    }
    return CF_OK;
}
