#include "nn/norm.h"

#include <stdio.h>

#include "kernels/kernels.h"

static cf_status load_pair(cf_weight *w, const cf_safetensors *st, const char *prefix, const char *modern,
                           const char *old, int64_t n, cf_error *err)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s.%s", prefix, modern);
    snprintf(b, sizeof b, "%s.%s", prefix, old);
    const char *names[] = {a, b, NULL};
    return cf_weight_load_any(w, st, names, 1, &n, err);
}

cf_status cf_norm_load_layer(cf_norm *ln, const cf_safetensors *st, const char *prefix, int64_t n, float eps,
                             cf_error *err)
{
    *ln = (cf_norm){.n = n, .eps = eps};
    CF_TRY(load_pair(&ln->gamma, st, prefix, "weight", "gamma", n, err));
    cf_status s = load_pair(&ln->beta, st, prefix, "bias", "beta", n, err);
    if (s != CF_OK)
        cf_norm_free(ln);
    return s;
}

cf_status cf_norm_load_rms(cf_norm *ln, const cf_safetensors *st, const char *prefix, int64_t n, float eps,
                           cf_error *err)
{
    *ln = (cf_norm){.n = n, .eps = eps, .rms = true};
    char name[512];
    snprintf(name, sizeof name, "%s.weight", prefix);
    return cf_weight_load(&ln->gamma, st, name, 1, &n, err);
}

void cf_norm_free(cf_norm *ln)
{
    cf_weight_free(&ln->gamma);
    cf_weight_free(&ln->beta);
}

void cf_norm_forward(const cf_norm *ln, const float *x, float *y, int64_t rows)
{
    if (ln->rms)
        cf_rms_norm(x, ln->gamma.data, y, rows, ln->n, ln->eps);
    else
        cf_layer_norm(x, ln->gamma.data, ln->beta.data, y, rows, ln->n, ln->eps);
}
