#include "nn/weights.h"

#include <stdint.h>
#include <stdlib.h>

cf_status cf_weight_load(cf_weight *w, const cf_safetensors *st, const char *name, int ndim, const int64_t *shape,
                         cf_error *err)
{
    *w = (cf_weight){0};
    const cf_tensor *t = NULL;
    CF_TRY(cf_st_get(st, name, ndim, shape, &t, err));
    if (t->dtype == CF_DTYPE_F32 && (uintptr_t)t->data % sizeof(float) == 0) {
        w->data = t->data;
        return CF_OK;
    }
    CF_TRY(cf_st_get_f32(st, name, ndim, shape, &w->owned, err));
    w->data = w->owned;
    return CF_OK;
}

cf_status cf_weight_load_any(cf_weight *w, const cf_safetensors *st, const char *const *names, int ndim,
                             const int64_t *shape, cf_error *err)
{
    for (size_t i = 0; names[i]; i++)
        if (cf_st_find(st, names[i]))
            return cf_weight_load(w, st, names[i], ndim, shape, err);
    return cf_weight_load(w, st, names[0], ndim, shape, err); /* reports the canonical name */
}

void cf_weight_free(cf_weight *w)
{
    free(w->owned);
    *w = (cf_weight){0};
}

bool cf_weight_exists(const cf_safetensors *st, const char *name) { return cf_st_find(st, name) != NULL; }
