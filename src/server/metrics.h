/* Server counters in the Prometheus text format: requests by route and status, errors, a
 * latency histogram, queue depth and in-flight requests, tokens generated. */
#ifndef CF_SERVER_METRICS_H
#define CF_SERVER_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define CF_METRICS_BUCKETS 12
#define CF_METRICS_CODES 8

typedef struct cf_metrics {
    pthread_mutex_t lock;
    uint64_t requests[CF_METRICS_CODES]; /* by status: 2xx, 400, 404, 413, 422, 429, 503, other */
    uint64_t latency_buckets[CF_METRICS_BUCKETS];
    uint64_t latency_count;
    double latency_sum;
    uint64_t tokens_generated;
    uint64_t batches, batched_requests; /* calls that ran several requests, and those requests */
    int queue_depth;
    int in_flight;
} cf_metrics;

void cf_metrics_init(cf_metrics *m);
void cf_metrics_destroy(cf_metrics *m);
/* One finished request: its status and seconds from first byte to response. */
void cf_metrics_observe(cf_metrics *m, unsigned status, double seconds);
void cf_metrics_add_tokens(cf_metrics *m, uint64_t n);
/* One call ran n requests together. */
void cf_metrics_batch(cf_metrics *m, size_t n);
void cf_metrics_queue(cf_metrics *m, int delta_depth, int delta_in_flight);
/* The exposition text. */
void cf_metrics_render(cf_metrics *m, cf_buf *out);

#endif
