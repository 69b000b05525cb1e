/* Llama: Hugging Face folders (config.json + safetensors) and llama2.c checkpoints. */
#ifndef CF_MODELS_LLAMA_H
#define CF_MODELS_LLAMA_H

#include "models/causal_lm.h"

typedef struct cf_llama cf_llama;

/* A llama2.c checkpoint (`run.c` format: 7 int32 header fields, then f32 tensors; a negative
 * vocab_size means an untied classifier follows). Its interleaved rotary pairs are permuted
 * into the rotate-half layout at load, so it runs (and scores) like the converted HF folder. */
cf_status cf_llama_load_llama2c(const char *path, cf_causal_lm *out, cf_error *err);

/* Does the file look like a llama2.c checkpoint (size consistent with its header)? */
bool cf_llama2c_sniff(const char *path);

#endif
