/* llama2.c's tokenizer file (tokenizer.bin, tok512.bin: what its tokenizer.py export writes):
 *   int32 max_token_length, then for every token up to the end of the file:
 *   float32 score, int32 length, `length` bytes (no terminator), all little-endian.
 * The tokens are the sentencepiece BPE pieces with "▁" written as ' ' and the bos/eos pieces
 * written as "\n<s>\n" / "\n</s>\n". Reading them back gives the sentencepiece model, which is
 * converted as Llama's tokenizer.model is (convert_spm.h): BPE with byte fallback, merges from
 * the pieces ranked by score, Prepend/Replace normalizer, bos template, ByteFallback/Fuse/Strip
 * decoders. */
#ifndef CF_TOKENIZERS_CONVERT_LLAMA2C_H
#define CF_TOKENIZERS_CONVERT_LLAMA2C_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenizers/spm_proto.h"

typedef struct cJSON cJSON;

/* Parse the file's bytes into a sentencepiece BPE model (free with cf_spm_model_free); `name`
 * prefixes error messages, which name the token index and byte offset of a bad record. */
cf_status cf_llama2c_tokenizer_parse(const uint8_t *data, size_t len, const char *name, cf_spm_model *out,
                                     cf_error *err);

/* Read `path` and build its tokenizer.json tree (free with cJSON_Delete). */
cf_status cf_llama2c_tokenizer_convert(const char *path, cJSON **tokenizer_json, cf_error *err);

#endif
