/* text-generation task pieces other layers need. */
#ifndef CF_PIPELINES_TEXT_GENERATION_H
#define CF_PIPELINES_TEXT_GENERATION_H

#include <stddef.h>

#include "cformer.h"

/* The model text-generation uses when none is given: gpt2 from the HF cache, else the bundled
 * stories260k; says on stderr which one. */
cf_status cf_text_generation_default_model(char *out, size_t size, cf_error *err);

#endif
