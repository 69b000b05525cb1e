/* Base64 (RFC 4648) both ways: image and audio bytes in JSON payloads, the precompiled
 * charsmap in tokenizer.json. */
#ifndef CF_CORE_BASE64_H
#define CF_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Length of the encoding of n bytes (without the NUL). */
size_t cf_base64_encoded_size(size_t n);
/* Encode n bytes into out, which holds cf_base64_encoded_size(n) + 1 chars (NUL-terminated). */
void cf_base64_encode_to(const uint8_t *data, size_t n, char *out);
/* The same into a fresh string (NULL when out of memory). */
char *cf_base64_encode(const uint8_t *data, size_t n);

/* Decode s: the standard and the URL-safe alphabets, white space skipped, stops at '='.
 * *out is malloc'ed. Any other character is CF_ERR_INVALID_ARG naming it and its offset. */
cf_status cf_base64_decode(const char *s, uint8_t **out, size_t *size, cf_error *err);

#endif
