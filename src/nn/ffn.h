/* Position-wise feed-forward block: down(act(up(x))). */
#ifndef CF_NN_FFN_H
#define CF_NN_FFN_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "nn/activation.h"
#include "nn/linear.h"

typedef struct cf_ffn {
    int64_t hidden, inner;
    cf_activation act;
    cf_linear up;   /* [inner, hidden] */
    cf_linear down; /* [hidden, inner] */
} cf_ffn;

cf_status cf_ffn_load(cf_ffn *f, const cf_safetensors *st, const char *up, const char *down, int64_t hidden,
                      int64_t inner, cf_activation act, cf_error *err);
void cf_ffn_free(cf_ffn *f);
size_t cf_ffn_scratch_bytes(const cf_ffn *f, int64_t rows);
/* y[rows, hidden] = ffn(x); y must not overlap x. */
void cf_ffn_forward(const cf_ffn *f, const float *x, int64_t rows, float *y, cf_arena *scratch);

#endif
