/* Activation functions chosen by their config.json name (hidden_act, activation, ...). They are
 * the kernels' cf_act (which GEMMs can also fuse) plus tanh, which only poolers use. */
#ifndef CF_NN_ACTIVATION_H
#define CF_NN_ACTIVATION_H

#include <stdint.h>

#include "core/error.h"
#include "kernels/kernels.h"

typedef cf_act cf_activation;

#define CF_ACT_IDENTITY CF_ACT_NONE
#define CF_ACT_GELU CF_ACT_GELU_ERF /* exact, erf based ("gelu"); CF_ACT_GELU_TANH is "gelu_new" */
/* tanh is not a fused GEMM epilogue: only cf_activation_apply knows it. */
#define CF_ACT_TANH ((cf_act)(CF_ACT_SILU + 16))

/* Parse a transformers ACT2FN name; `key` names the config key for the error message. */
cf_status cf_activation_parse(const char *name, const char *key, cf_activation *out, cf_error *err);
void cf_activation_apply(cf_activation act, float *x, int64_t n);

#endif
