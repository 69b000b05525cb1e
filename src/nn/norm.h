/* LayerNorm and RMSNorm layers: weights loaded by prefix, applied row-wise. */
#ifndef CF_NN_NORM_H
#define CF_NN_NORM_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/weights.h"

typedef struct cf_norm {
    int64_t n;
    float eps;
    bool rms;       /* RMSNorm (no mean, no bias) instead of LayerNorm */
    cf_weight gamma;
    cf_weight beta; /* LayerNorm only */
} cf_norm;

/* "<prefix>.weight" and "<prefix>.bias" (or the old ".gamma"/".beta" spelling). */
cf_status cf_norm_load_layer(cf_norm *ln, const cf_safetensors *st, const char *prefix, int64_t n, float eps,
                             cf_error *err);
/* "<prefix>.weight" only. */
cf_status cf_norm_load_rms(cf_norm *ln, const cf_safetensors *st, const char *prefix, int64_t n, float eps,
                           cf_error *err);
void cf_norm_free(cf_norm *ln);

/* y[rows, n] = norm(x); y and x must not overlap. */
void cf_norm_forward(const cf_norm *ln, const float *x, float *y, int64_t rows);

#endif
