/* Tensors: a dtype, a shape of up to CF_MAX_DIMS dims (row-major, contiguous) and a data
 * pointer that is either owned (malloc'ed) or a view (mmapped weights, arena memory). */
#ifndef CF_CORE_TENSOR_H
#define CF_CORE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CF_MAX_DIMS 4

typedef enum cf_dtype {
    CF_DTYPE_F32 = 0,
    CF_DTYPE_F16,
    CF_DTYPE_BF16,
    CF_DTYPE_I64,
    CF_DTYPE_I32,
    CF_DTYPE_I8,
    CF_DTYPE_U8,
    CF_DTYPE_BOOL,
    CF_DTYPE_F64,
    CF_DTYPE_COUNT
} cf_dtype;

typedef struct cf_tensor {
    cf_dtype dtype;
    int ndim;
    int64_t shape[CF_MAX_DIMS];
    void *data;
    bool owned; /* data was malloc'ed for this tensor and is freed with it */
} cf_tensor;

size_t cf_dtype_size(cf_dtype dtype);
const char *cf_dtype_name(cf_dtype dtype);          /* safetensors spelling: "F32", "BF16", ... */
bool cf_dtype_from_name(const char *name, cf_dtype *out);

int64_t cf_tensor_numel(const cf_tensor *t);
size_t cf_tensor_nbytes(const cf_tensor *t);

/* A view over existing memory (no ownership). */
cf_tensor cf_tensor_view(cf_dtype dtype, int ndim, const int64_t *shape, void *data);

/* Allocate a zeroed tensor. */
cf_status cf_tensor_alloc(cf_tensor *t, cf_dtype dtype, int ndim, const int64_t *shape, cf_error *err);
void cf_tensor_free(cf_tensor *t);

/* "[2,16,768]" into buf. */
const char *cf_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* Same shape (ndim and every dim)? */
bool cf_shape_equal(const cf_tensor *t, int ndim, const int64_t *shape);

/* Element conversions. */
float cf_f16_to_f32(uint16_t h);
float cf_bf16_to_f32(uint16_t b);
uint16_t cf_f32_to_bf16(float f); /* round to nearest even */
uint16_t cf_f32_to_f16(float f);  /* round to nearest even */

/* Convert any float/int tensor's elements to f32 into dst (numel floats). */
cf_status cf_tensor_to_f32(const cf_tensor *t, float *dst, cf_error *err);

#endif
