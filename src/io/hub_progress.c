#include "io/hub_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 24

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool cf_hub_progress_wanted(bool quiet)
{
    const char *off = getenv("HF_HUB_DISABLE_PROGRESS_BARS");
    bool disabled = off && *off && strcmp(off, "0") && strcasecmp(off, "false") && strcasecmp(off, "no");
    return !quiet && !disabled && isatty(STDERR_FILENO);
}

const char *cf_hub_format_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000.0 && u < 4) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

void cf_hub_progress_init(cf_hub_progress *p, bool enabled, const char *label)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->enabled = enabled;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->started = p->last_rate_time = now_seconds();
}

static void format_eta(double seconds, char *buf, size_t size)
{
    if (seconds < 0 || seconds > 359999) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%02ld:%02ld", s / 60, s % 60);
}

/* Caller holds the lock. */
static void draw(cf_hub_progress *p, double now)
{
    if (now - p->last_rate_time >= 0.5) {
        double r = (double)(p->done - p->last_rate_done) / (now - p->last_rate_time);
        p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * r : r;
        p->last_rate_time = now;
        p->last_rate_done = p->done;
    }
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    char bar[BAR_WIDTH + 1];
    int filled = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    char done[32], total[32], rate[32], eta[32];
    format_eta(p->rate > 0 ? (double)(p->total - p->done) / p->rate : -1, eta, sizeof eta);
    fprintf(stderr, "\r%s [%s] %3.0f%% %s/%s %s/s ETA %s (%d/%d files)\033[K", p->label, bar, frac * 100.0,
            cf_hub_format_bytes((double)p->done, done, sizeof done),
            cf_hub_format_bytes((double)p->total, total, sizeof total),
            cf_hub_format_bytes(p->rate > 0 ? p->rate : 0, rate, sizeof rate), eta, p->files_done, p->files_total);
    fflush(stderr);
    p->last_draw = now;
}

void cf_hub_progress_add_file(cf_hub_progress *p, int64_t bytes)
{
    pthread_mutex_lock(&p->lock);
    p->files_total++;
    if (bytes > 0)
        p->total += bytes;
    pthread_mutex_unlock(&p->lock);
}

void cf_hub_progress_bytes(void *ctx, int64_t delta)
{
    cf_hub_progress *p = ctx;
    pthread_mutex_lock(&p->lock);
    p->done += delta;
    double now = now_seconds();
    if (p->enabled && now - p->last_draw >= 0.1)
        draw(p, now);
    pthread_mutex_unlock(&p->lock);
}

void cf_hub_progress_file_done(cf_hub_progress *p)
{
    pthread_mutex_lock(&p->lock);
    p->files_done++;
    if (p->enabled)
        draw(p, now_seconds());
    pthread_mutex_unlock(&p->lock);
}

void cf_hub_progress_finish(cf_hub_progress *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->enabled) {
        draw(p, now_seconds());
        fputc('\n', stderr);
    }
    pthread_mutex_unlock(&p->lock);
}

void cf_hub_progress_destroy(cf_hub_progress *p) { pthread_mutex_destroy(&p->lock); }
