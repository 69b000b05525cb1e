/* Wav2Vec2FeatureExtractor (transformers 4.35.2): right padding to the longest clip, attention
 * mask, and zero-mean unit-variance normalization per clip. */
#include "media/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NORM_EPS 1e-7 /* added to the variance, as transformers does */

cf_status cf_wav2vec2_features_init(cf_wav2vec2_features *fe, const cf_config *pre, cf_error *err)
{
    memset(fe, 0, sizeof *fe);
    int64_t rate = cf_config_int(pre, "sampling_rate", 16000);
    if (rate <= 0 || rate > 1000000)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"sampling_rate\" is %lld; expected 1..1000000", pre->path,
                       (long long)rate);
    int64_t feature_size = cf_config_int(pre, "feature_size", 1);
    if (feature_size != 1)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"feature_size\" is %lld; Wav2Vec2 takes raw audio (1)",
                       pre->path, (long long)feature_size);
    const char *side = cf_config_str(pre, "padding_side", "right");
    if (strcmp(side, "right") != 0)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"padding_side\" is \"%s\"; only \"right\" is supported",
                       pre->path, side);
    fe->sampling_rate = (int)rate;
    fe->do_normalize = cf_config_bool(pre, "do_normalize", true);
    fe->return_attention_mask = cf_config_bool(pre, "return_attention_mask", false);
    fe->padding_value = (float)cf_config_float(pre, "padding_value", 0.0);
    return CF_OK;
}

void cf_wav2vec2_normalize(const float *x, size_t n, float *out)
{
    if (n == 0)
        return;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    double squares = 0.0;
    for (size_t i = 0; i < n; i++)
        squares += ((double)x[i] - mean) * ((double)x[i] - mean);
    float mean_f = (float)mean;
    float scale = (float)sqrt(squares / (double)n + NORM_EPS);
    for (size_t i = 0; i < n; i++)
        out[i] = (x[i] - mean_f) / scale;
}

cf_status cf_wav2vec2_batch(const cf_wav2vec2_features *fe, const float *const *clips, const size_t *lengths,
                            size_t batch, float **values, int32_t **mask, size_t *len_out, cf_error *err)
{
    *values = NULL;
    *mask = NULL;
    *len_out = 0;
    if (batch == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "wav2vec2 features: empty batch");
    size_t len = 0;
    for (size_t b = 0; b < batch; b++) {
        if (lengths[b] == 0 || !clips[b])
            return cf_fail(err, CF_ERR_INVALID_ARG, "wav2vec2 features: clip %zu of the batch has no samples", b);
        len = lengths[b] > len ? lengths[b] : len;
    }
    if (len > SIZE_MAX / sizeof(float) / batch)
        return cf_fail(err, CF_ERR_NOMEM, "wav2vec2 features: batch of %zu x %zu samples is too large", batch, len);
    float *v = malloc(batch * len * sizeof *v);
    int32_t *m = fe->return_attention_mask ? malloc(batch * len * sizeof *m) : NULL;
    if (!v || (fe->return_attention_mask && !m)) {
        free(v);
        free(m);
        return cf_fail(err, CF_ERR_NOMEM, "wav2vec2 features: out of memory for %zu x %zu samples", batch, len);
    }
    for (size_t b = 0; b < batch; b++) {
        float *row = v + b * len;
        memcpy(row, clips[b], lengths[b] * sizeof *row);
        for (size_t i = lengths[b]; i < len; i++)
            row[i] = fe->padding_value;
        if (m)
            for (size_t i = 0; i < len; i++)
                m[b * len + i] = i < lengths[b];
        if (!fe->do_normalize)
            continue;
        /* Without a mask transformers normalizes the padded row as it stands. */
        size_t valid = m ? lengths[b] : len;
        cf_wav2vec2_normalize(row, valid, row);
        for (size_t i = valid; i < len; i++)
            row[i] = fe->padding_value;
    }
    *values = v;
    *mask = m;
    *len_out = len;
    return CF_OK;
}
