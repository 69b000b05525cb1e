#include "nn/activation.h"

#include <string.h>

#include "kernels/kernels.h"

static const struct {
    const char *name;
    cf_activation act;
} k_names[] = {
    {"gelu", CF_ACT_GELU},           {"gelu_new", CF_ACT_GELU_TANH}, {"gelu_pytorch_tanh", CF_ACT_GELU_TANH},
    {"relu", CF_ACT_RELU},           {"silu", CF_ACT_SILU},          {"swish", CF_ACT_SILU},
    {"tanh", CF_ACT_TANH},           {"linear", CF_ACT_IDENTITY},
};

cf_status cf_activation_parse(const char *name, const char *key, cf_activation *out, cf_error *err)
{
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (name && !strcmp(name, k_names[i].name)) {
            *out = k_names[i].act;
            return CF_OK;
        }
    return cf_fail(err, CF_ERR_UNSUPPORTED,
                   "%s: activation '%s' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, "
                   "silu, swish, tanh, linear)",
                   key, name ? name : "(missing)");
}

void cf_activation_apply(cf_activation act, float *x, int64_t n)
{
    if (act == CF_ACT_TANH)
        cf_tanh_inplace(x, n);
    else if (act == CF_ACT_GELU)
        cf_gelu_erf(x, n);
    else if (act == CF_ACT_GELU_TANH)
        cf_gelu_tanh(x, n);
    else if (act == CF_ACT_RELU)
        cf_relu(x, n);
    else if (act == CF_ACT_SILU)
        cf_silu(x, n);
}
