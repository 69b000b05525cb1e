#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int g_level = -1; /* -1: not read from the environment yet */

static cf_log_level level_from_env(void)
{
    const char *v = getenv("CFORMER_LOG");
    if (!v || !*v)
        return CF_LOG_WARN;
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(v, names[i]) == 0)
            return (cf_log_level)i;
    if (strcasecmp(v, "warning") == 0)
        return CF_LOG_WARN;
    return CF_LOG_WARN;
}

cf_log_level cf_log_level_get(void)
{
    if (g_level < 0)
        g_level = (int)level_from_env();
    return (cf_log_level)g_level;
}

void cf_log_level_set(cf_log_level level) { g_level = (int)level; }

void cf_log(cf_log_level level, const char *fmt, ...)
{
    if (level > cf_log_level_get())
        return;
    static const char *tags[] = {"error", "warning", "info", "debug"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cformer: %s: %s\n", tags[level], line);
}
