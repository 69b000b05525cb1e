/* The sampler's random numbers: xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 * A given seed gives the same tokens on every platform; it does not reproduce PyTorch's
 * generator, so sampled text differs from Python's for the same seed. */
#ifndef CF_GENERATION_RNG_H
#define CF_GENERATION_RNG_H

#include <stdint.h>

typedef struct cf_rng {
    uint64_t s[4];
} cf_rng;

void cf_rng_seed(cf_rng *r, uint64_t seed);
uint64_t cf_rng_next(cf_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double cf_rng_uniform(cf_rng *r);

#endif
