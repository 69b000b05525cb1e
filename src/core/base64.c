#include "core/base64.h"

#include <stdlib.h>
#include <string.h>

static const char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cf_base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

void cf_base64_encode_to(const uint8_t *data, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0) |
                     (i + 2 < n ? (uint32_t)data[i + 2] : 0);
        out[o++] = k_alphabet[v >> 18];
        out[o++] = k_alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? k_alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? k_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

char *cf_base64_encode(const uint8_t *data, size_t n)
{
    char *out = malloc(cf_base64_encoded_size(n) + 1);
    if (out)
        cf_base64_encode_to(data, n, out);
    return out;
}

static int digit_value(char c)
{
    const char *p = c ? strchr(k_alphabet, c) : NULL;
    return p ? (int)(p - k_alphabet) : c == '-' ? 62 : c == '_' ? 63 : -1;
}

cf_status cf_base64_decode(const char *s, uint8_t **out, size_t *size, cf_error *err)
{
    *out = NULL;
    *size = 0;
    size_t len = strlen(s), n = 0;
    uint8_t *buf = malloc(len / 4 * 3 + 4);
    if (!buf)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate %zu bytes to decode base64", len / 4 * 3 + 4);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        int v = digit_value(c);
        if (v < 0) {
            free(buf);
            return cf_fail(err, CF_ERR_INVALID_ARG, "not base64: bad character 0x%02x at byte %zu",
                           (unsigned)(unsigned char)c, i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *size = n;
    return CF_OK;
}
