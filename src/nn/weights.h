/* A float weight tensor: a view into the mmapped checkpoint when it is already f32 and
 * aligned, else converted once at load. */
#ifndef CF_NN_WEIGHTS_H
#define CF_NN_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/safetensors.h"

typedef struct cf_weight {
    const float *data; /* NULL when not loaded */
    float *owned;      /* non-NULL when converted (then data == owned) */
} cf_weight;

/* Load `name` with the given shape (-1 = any); the error names the tensor and shapes. */
cf_status cf_weight_load(cf_weight *w, const cf_safetensors *st, const char *name, int ndim, const int64_t *shape,
                         cf_error *err);
/* Load the first of `names` (NULL-terminated) that exists; old checkpoints spell some
 * tensors differently (LayerNorm.gamma for LayerNorm.weight). */
cf_status cf_weight_load_any(cf_weight *w, const cf_safetensors *st, const char *const *names, int ndim,
                             const int64_t *shape, cf_error *err);
void cf_weight_free(cf_weight *w);

/* Does the checkpoint hold this tensor? */
bool cf_weight_exists(const cf_safetensors *st, const char *name);

#endif
