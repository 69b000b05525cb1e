#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cf_version(void) { return CF_VERSION_STRING; }

const char *cf_status_name(cf_status status)
{
    switch (status) {
    case CF_OK: return "CF_OK";
    case CF_ERR_INVALID_ARG: return "CF_ERR_INVALID_ARG";
    case CF_ERR_IO: return "CF_ERR_IO";
    case CF_ERR_FORMAT: return "CF_ERR_FORMAT";
    case CF_ERR_UNSUPPORTED: return "CF_ERR_UNSUPPORTED";
    case CF_ERR_NOT_FOUND: return "CF_ERR_NOT_FOUND";
    case CF_ERR_NOMEM: return "CF_ERR_NOMEM";
    case CF_ERR_SHAPE: return "CF_ERR_SHAPE";
    case CF_ERR_INTERNAL: return "CF_ERR_INTERNAL";
    }
    return "CF_ERR_UNKNOWN";
}

cf_status cf_fail(cf_error *err, cf_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

cf_status cf_error_prefix(cf_error *err, const char *fmt, ...)
{
    if (!err)
        return CF_ERR_INTERNAL;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strnlen(prefix, sizeof prefix);
    size_t mlen = strnlen(err->message, sizeof err->message);
    if (plen >= sizeof err->message)
        plen = sizeof err->message - 1;
    if (plen + mlen >= sizeof err->message)
        mlen = sizeof err->message - 1 - plen;
    memmove(err->message + plen, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen + mlen] = '\0';
    return err->status;
}

void cf_error_clear(cf_error *err)
{
    if (err) {
        err->status = CF_OK;
        err->message[0] = '\0';
    }
}
