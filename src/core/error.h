/* Errors: fill a cf_error and return its status in one expression. */
#ifndef CF_CORE_ERROR_H
#define CF_CORE_ERROR_H

#include "cformer.h"

#if defined(__GNUC__)
#define CF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CF_PRINTF(a, b)
#endif

/* Record `status` with a formatted message in `err` (may be NULL); returns `status`. */
cf_status cf_fail(cf_error *err, cf_status status, const char *fmt, ...) CF_PRINTF(3, 4);

/* Prepend context ("config.json: ") to an error already recorded; returns its status. */
cf_status cf_error_prefix(cf_error *err, const char *fmt, ...) CF_PRINTF(2, 3);

/* Reset to CF_OK with an empty message. */
void cf_error_clear(cf_error *err);

/* Evaluate a cf_status expression and return it from the caller when it failed. */
#define CF_TRY(expr)                          \
    do {                                      \
        cf_status cf_try_status_ = (expr);    \
        if (cf_try_status_ != CF_OK)          \
            return cf_try_status_;            \
    } while (0)

#endif
