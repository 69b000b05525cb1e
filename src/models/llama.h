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

/* Check a checkpoint's first bytes (the 7-int32 header) against the size of the whole file;
 * `name` prefixes the message. For fuzzing and for files read elsewhere. */
cf_status cf_llama2c_check_header(const uint8_t *data, size_t len, uint64_t file_size, const char *name,
                                  cf_error *err);

/* The config.json a converted folder of this checkpoint would have (model_type llama, sizes
 * from the header, bos 1 / eos 2 as llama2.c's tokenizer has them). */
cf_status cf_llama2c_config(const char *path, cf_config *cfg, cf_error *err);

#endif
