/* The download progress line on stderr: bytes, rate, ETA and files, redrawn at most 10x a
 * second, shared by the download threads. Off when stderr is not a terminal, with --quiet or
 * with HF_HUB_DISABLE_PROGRESS_BARS set. */
#ifndef CF_IO_HUB_PROGRESS_H
#define CF_IO_HUB_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cf_hub_progress {
    pthread_mutex_t lock;
    bool enabled;
    char label[128];
    int64_t total, done;
    int files_total, files_done;
    double started, last_draw, last_rate_time;
    int64_t last_rate_done;
    double rate; /* bytes/s, smoothed */
} cf_hub_progress;

/* Should a progress bar be drawn (stderr a TTY, not quiet, not disabled by the environment)? */
bool cf_hub_progress_wanted(bool quiet);

void cf_hub_progress_init(cf_hub_progress *p, bool enabled, const char *label);
void cf_hub_progress_add_file(cf_hub_progress *p, int64_t bytes);
/* A cf_http_progress_fn: ctx is the cf_hub_progress. */
void cf_hub_progress_bytes(void *ctx, int64_t delta);
void cf_hub_progress_file_done(cf_hub_progress *p);
/* Draw the final state and end the line. */
void cf_hub_progress_finish(cf_hub_progress *p);
void cf_hub_progress_destroy(cf_hub_progress *p);

/* "1.5 MB" style, into buf. */
const char *cf_hub_format_bytes(double bytes, char *buf, size_t size);

#endif
