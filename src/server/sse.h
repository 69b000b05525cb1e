/* Server-Sent Events for streamed text generation, in text-generation-inference's shape (what the
 * Hugging Face Inference API and huggingface_hub's text_generation(stream=True) read):
 *   data:{"index":1,"token":{"id":ID,"text":"...","logprob":null,"special":false},"generated_text":null,"details":null}
 * one per piece of text; the last one carries "generated_text" (the whole output text, as the
 * non-streamed answer has it). An error after the stream has begun is data:{"error":...,"error_type":...}. */
#ifndef CF_SERVER_SSE_H
#define CF_SERVER_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* A token event; generated_text NULL writes null. id < 0 writes null. */
void cf_sse_token(cf_buf *out, int index, int64_t id, const char *text, size_t len, const char *generated_text);
/* One event holding `json`. */
void cf_sse_data(cf_buf *out, const char *json);
/* The first "generated_text" of a text-generation output ([{"generated_text": ...}, ...] or the
 * nested list of a list input); malloc'ed, NULL when there is none. */
char *cf_sse_generated_text(const char *output_json);

#endif
