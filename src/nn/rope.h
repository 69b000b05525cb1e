/* Rotary position embedding, rotate-half form (transformers' Llama): dimension i of a head
 * pairs with i + head_dim/2 and turns by position * inv_freq[i].
 * Scaling as transformers 4.35.2: "linear" divides positions by the factor; "dynamic" (NTK)
 * raises the base once the attended length exceeds max_position_embeddings:
 *   base' = base * (factor * len / max_pos - (factor - 1)) ^ (dim / (dim - 2)).
 * Keys already cached keep the rotation they were written with, as in transformers. */
#ifndef CF_NN_ROPE_H
#define CF_NN_ROPE_H

#include <stdint.h>

#include "core/error.h"

typedef enum cf_rope_scaling { CF_ROPE_PLAIN = 0, CF_ROPE_LINEAR, CF_ROPE_DYNAMIC } cf_rope_scaling;

typedef struct cf_rope {
    int head_dim;
    double theta;
    cf_rope_scaling scaling;
    double factor;
    int64_t max_positions;
    float inv_freq[512]; /* head_dim / 2 entries for the unscaled base */
} cf_rope;

cf_status cf_rope_init(cf_rope *r, int head_dim, double theta, cf_rope_scaling scaling, double factor,
                       int64_t max_positions, cf_error *err);

/* Rotate n_heads heads of each of n rows (row i at x + i * row_stride) at positions pos[i].
 * attended_len: the key length of this forward (cache + new), used by dynamic scaling. */
void cf_rope_apply(const cf_rope *r, float *x, int64_t n, int64_t row_stride, int n_heads, const int64_t *pos,
                   int64_t attended_len);

#endif
