/* Small cJSON helpers shared by the io parsers: parsing with a located error message,
 * and describing a value in one. */
#ifndef CF_IO_JSON_UTIL_H
#define CF_IO_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct cJSON cJSON;

/* Parse `len` bytes (need not be NUL-terminated) as one JSON value. On failure returns NULL
 * with *error_at the byte where parsing stopped and *truncated set when the text ended
 * inside a value. Bytes after the value other than whitespace are an error too
 * (*trailing set, *error_at at the first such byte). */
cJSON *cf_json_parse_raw(const char *text, size_t len, size_t *error_at, bool *truncated, bool *trailing);

/* Parse `len` bytes (need not be NUL-terminated) as one JSON value with nothing but
 * whitespace after it. On failure the message names `name` and the line:column. */
cf_status cf_json_parse(const char *text, size_t len, const char *name, cJSON **out, cf_error *err);

/* "a string", "a number", "an array", "an object", "a boolean", "null" (for messages). */
const char *cf_json_type_name(const cJSON *v);

/* The value as compact JSON, cut to fit buf (with "..." when cut). */
const char *cf_json_compact(const cJSON *v, char *buf, size_t size);

#endif
