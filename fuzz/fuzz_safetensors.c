/* libFuzzer: arbitrary bytes as a safetensors file; every accepted tensor is read in full. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_safetensors *st = NULL;
    cf_error err = {0};
    if (cf_st_open_memory(data, size, "fuzz", &st, &err) != CF_OK) {
        if (!err.message[0])
            abort(); /* every rejection must say why */
        return 0;
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < cf_st_count(st); i++) {
        const cf_tensor *t = cf_st_at(st, i);
        const uint8_t *p = t->data;
        size_t n = cf_tensor_nbytes(t);
        for (size_t k = 0; k < n; k++)
            sink ^= p[k];
        const char *name = cf_st_name(st, i);
        if (cf_st_find(st, name) != t)
            abort();
        float *f = NULL;
        if (cf_st_get_f32(st, name, t->ndim, t->shape, &f, &err) == CF_OK)
            free(f);
        int64_t any[CF_MAX_DIMS] = {-1, -1, -1, -1};
        const cf_tensor *out;
        if (t->ndim < CF_MAX_DIMS && cf_st_get(st, name, t->ndim + 1, any, &out, &err) == CF_OK)
            abort(); /* a rank mismatch must be reported */
    }
    const cf_tensor *out;
    (void)cf_st_get(st, "missing.tensor", 1, (const int64_t[]){-1}, &out, &err);
    (void)cf_st_metadata(st, "format");
    (void)sink;
    cf_st_close(st);
    return 0;
}
