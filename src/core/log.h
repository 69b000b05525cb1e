/* Logging to stderr; the level comes from CFORMER_LOG (error, warn, info, debug; default warn). */
#ifndef CF_CORE_LOG_H
#define CF_CORE_LOG_H

#include "core/error.h"

typedef enum { CF_LOG_ERROR = 0, CF_LOG_WARN, CF_LOG_INFO, CF_LOG_DEBUG } cf_log_level;

void cf_log(cf_log_level level, const char *fmt, ...) CF_PRINTF(2, 3);
cf_log_level cf_log_level_get(void);
void cf_log_level_set(cf_log_level level);

#define cf_log_error(...) cf_log(CF_LOG_ERROR, __VA_ARGS__)
#define cf_log_warn(...) cf_log(CF_LOG_WARN, __VA_ARGS__)
#define cf_log_info(...) cf_log(CF_LOG_INFO, __VA_ARGS__)
#define cf_log_debug(...) cf_log(CF_LOG_DEBUG, __VA_ARGS__)

#endif
