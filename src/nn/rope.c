#include "nn/rope.h"

#include <math.h>
#include <string.h>

/* inv_freq[i] = 1 / base^(2i / dim), in float32 as torch computes it. */
static void inverse_frequencies(float *inv_freq, int head_dim, double base)
{
    float fbase = (float)base;
    for (int i = 0; i < head_dim / 2; i++) {
        float exponent = (float)(2 * i) / (float)head_dim;
        inv_freq[i] = 1.0f / powf(fbase, exponent);
    }
}

cf_status cf_rope_init(cf_rope *r, int head_dim, double theta, cf_rope_scaling scaling, double factor,
                       int64_t max_positions, cf_error *err)
{
    memset(r, 0, sizeof *r);
    if (head_dim <= 2 || head_dim % 2 || head_dim > 1024)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "rotary embedding: head_dim %d must be even and in [4, 1024]",
                       head_dim);
    if (!(theta > 0) || !isfinite(theta))
        return cf_fail(err, CF_ERR_INVALID_ARG, "rotary embedding: rope_theta %g must be positive", theta);
    if (scaling != CF_ROPE_PLAIN && (!(factor > 0) || !isfinite(factor)))
        return cf_fail(err, CF_ERR_INVALID_ARG, "rope_scaling: factor %g must be positive", factor);
    if (scaling == CF_ROPE_DYNAMIC && max_positions <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "rope_scaling dynamic needs max_position_embeddings > 0");
    r->head_dim = head_dim;
    r->theta = theta;
    r->scaling = scaling;
    r->factor = factor;
    r->max_positions = max_positions;
    inverse_frequencies(r->inv_freq, head_dim, theta);
    return CF_OK;
}

static void rotate_head(float *x, int half, const float *cos_t, const float *sin_t)
{
    for (int i = 0; i < half; i++) {
        float a = x[i], b = x[i + half];
        x[i] = a * cos_t[i] + (-b) * sin_t[i];
        x[i + half] = b * cos_t[i] + a * sin_t[i];
    }
}

void cf_rope_apply(const cf_rope *r, float *x, int64_t n, int64_t row_stride, int n_heads, const int64_t *pos,
                   int64_t attended_len)
{
    int half = r->head_dim / 2;
    float inv_dynamic[512];
    const float *inv_freq = r->inv_freq;
    if (r->scaling == CF_ROPE_DYNAMIC && attended_len > r->max_positions) {
        double base = r->theta * pow(r->factor * (double)attended_len / (double)r->max_positions - (r->factor - 1),
                                     (double)r->head_dim / (double)(r->head_dim - 2));
        inverse_frequencies(inv_dynamic, r->head_dim, base);
        inv_freq = inv_dynamic;
    }
    float cos_t[512], sin_t[512];
    for (int64_t row = 0; row < n; row++) {
        float t = (float)pos[row];
        if (r->scaling == CF_ROPE_LINEAR)
            t = t / (float)r->factor;
        for (int i = 0; i < half; i++) {
            float angle = t * inv_freq[i];
            cos_t[i] = cosf(angle);
            sin_t[i] = sinf(angle);
        }
        for (int h = 0; h < n_heads; h++)
            rotate_head(x + row * row_stride + (int64_t)h * r->head_dim, half, cos_t, sin_t);
    }
}
