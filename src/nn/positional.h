/* Fixed sinusoidal position tables. */
#ifndef CF_NN_POSITIONAL_H
#define CF_NN_POSITIONAL_H

#include <stdint.h>

#include "core/error.h"

/* Whisper's encoder table (openai/whisper `sinusoids`): row t is
 * [sin(t * f_0) .. sin(t * f_{c/2-1}), cos(t * f_0) .. cos(t * f_{c/2-1})],
 * f_i = exp(-i * ln(10000) / (c/2 - 1)). *out is malloc'ed [length, channels]; channels even, >= 4. */
cf_status cf_sinusoids(int64_t length, int64_t channels, float **out, cf_error *err);

/* Marian's table (transformers' MarianSinusoidalPositionalEmbedding): with
 * a(p, j) = p / 10000^(2*floor(j/2)/c) in float64, columns [0, ceil(c/2)) are sin(a(p, 2i)) and
 * the rest cos(a(p, 2i+1)), rounded to float32. *out is malloc'ed [length, channels]. */
cf_status cf_marian_sinusoids(int64_t length, int64_t channels, float **out, cf_error *err);

#endif
