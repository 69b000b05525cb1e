/* text-generation task pieces other layers need. */
#ifndef CF_PIPELINES_TEXT_GENERATION_H
#define CF_PIPELINES_TEXT_GENERATION_H

#include <stddef.h>

#include "cformer.h"

/* The model text-generation uses when none is given: gpt2 from the HF cache, else the bundled
 * stories260k; says on stderr which one. */
cf_status cf_text_generation_default_model(char *out, size_t size, cf_error *err);

/* Tokens generated on the calling thread so far (all sequences; a running count for metrics),
 * and sequence 0's newest token id: inside a cf_stream_fn, the token that ended the piece. */
uint64_t cf_text_generation_thread_tokens(void);
int64_t cf_text_generation_last_token(void);

/* transformers' clean_up_tokenization (what clean_up_tokenization_spaces=True applies), in place. */
void cf_clean_up_tokenization(char *s);

#endif
