#include "nn/positional.h"

#include <math.h>
#include <stdlib.h>

cf_status cf_sinusoids(int64_t length, int64_t channels, float **out, cf_error *err)
{
    *out = NULL;
    if (length <= 0 || channels < 4 || channels % 2)
        return cf_fail(err, CF_ERR_INVALID_ARG, "sinusoidal positions need an even channel count >= 4 (got %lld) "
                       "and a positive length (got %lld)", (long long)channels, (long long)length);
    float *t = malloc((size_t)(length * channels) * sizeof(float));
    if (!t)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a [%lld, %lld] position table", (long long)length,
                       (long long)channels);
    int64_t half = channels / 2;
    float increment = logf(10000.0f) / (float)(half - 1);
    for (int64_t p = 0; p < length; p++)
        for (int64_t i = 0; i < half; i++) {
            float angle = (float)p * expf(-increment * (float)i); /* float32, as torch computes it */
            t[p * channels + i] = sinf(angle);
            t[p * channels + half + i] = cosf(angle);
        }
    *out = t;
    return CF_OK;
}

cf_status cf_marian_sinusoids(int64_t length, int64_t channels, float **out, cf_error *err)
{
    *out = NULL;
    if (length <= 0 || channels <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "sinusoidal positions need a positive size (got [%lld, %lld])",
                       (long long)length, (long long)channels);
    float *t = malloc((size_t)(length * channels) * sizeof(float));
    if (!t)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a [%lld, %lld] position table", (long long)length,
                       (long long)channels);
    int64_t sines = (channels + 1) / 2;
    for (int64_t p = 0; p < length; p++)
        for (int64_t j = 0; j < channels; j++) {
            int64_t i = j < sines ? j : j - sines;            /* pair index: column 2i (sin) or 2i+1 (cos) */
            double angle = (double)p / pow(10000.0, 2.0 * (double)i / (double)channels);
            t[p * channels + j] = (float)(j < sines ? sin(angle) : cos(angle));
        }
    *out = t;
    return CF_OK;
}
