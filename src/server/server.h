/* The HTTP front end (libmicrohttpd) over loaded pipelines:
 *   POST /  and  POST /models/{id}     Hugging Face Inference API bodies (raw bytes for audio/images)
 *   POST /v2/models/{name}/infer       KServe v2 / Open Inference Protocol; GET /v2/models/{name},
 *   GET /v2, /v2/health/ready, /v2/health/live
 *   GET /health, GET /metrics (Prometheus), GET /models, GET / (the playground page)
 * Requests go through one bounded queue to worker threads; a full queue answers 429. Errors are
 * JSON {"error": ..., "error_type": ...} with 400/404/405/413/422/429/503.
 * Text generation with "stream": true answers Server-Sent Events in text-generation-inference's
 * shape, one per piece of text as it is generated. Queued requests of a batchable model with the
 * same parameters are run as one call (up to max_batch inputs) and the results split back.
 * Generation requests are not batched: the text-generation pipeline generates each prompt on its
 * own (as Python's does: left padding would change the numbers), and sharing decode steps between
 * requests that arrive at different times needs continuous batching (one forward over sequences at
 * different positions of a paged KV cache), which the causal LM's forward does not take. */
#ifndef CF_SERVER_SERVER_H
#define CF_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cformer.h"

typedef struct cf_server cf_server;

typedef struct cf_server_config {
    const char *host;           /* default 127.0.0.1 */
    int port;                   /* 0 picks a free port (see cf_server_port) */
    size_t max_body_bytes;      /* default 16 MiB */
    int queue_capacity;         /* requests waiting for a worker; default 64 */
    int workers;                /* threads running pipelines; default 2 */
    int request_timeout_ms;     /* longest wait in the queue; default 60000 */
    int connection_timeout_s;   /* idle/slow connections are closed after this; default 15 */
    int max_connections;        /* default 512 */
    int max_input_chars;        /* longest text input; default 100000 */
    int max_new_tokens;         /* cap on max_new_tokens parameters; default 1024 */
    int max_batch;              /* inputs run as one call for batchable models; default 8, 1 = off */
    int max_wait_ms;            /* how long a batch waits for more requests; default 0 (take what is queued) */
} cf_server_config;

cf_server_config cf_server_config_default(void);

/* Something the server can run: a name, a task and a function from an Inference API body to
 * the output JSON (malloc'ed). cf_server_add_pipeline wraps a cf_pipeline in one.
 * run_stream (optional) is run for "stream": true and hands out generated text as it comes.
 * batchable: run takes {"inputs": [a, b, ...]} and answers a list with one result per input, in
 * order, each the same as a run on that input alone, so queued requests can share one call. */
typedef struct cf_server_model {
    char name[256];
    char task[64];
    void *ctx;
    cf_status (*run)(void *ctx, const char *payload_json, char **out_json, cf_error *err);
    cf_status (*run_stream)(void *ctx, const char *payload_json, cf_stream_fn on_text, void *stream_ctx,
                            char **out_json, cf_error *err);
    bool batchable;
} cf_server_model;

cf_status cf_server_new(const cf_server_config *cfg, cf_server **out, cf_error *err);
/* Register models before cf_server_start. The first one answers POST /. */
cf_status cf_server_add_model(cf_server *s, const cf_server_model *m, cf_error *err);
cf_status cf_server_add_pipeline(cf_server *s, const char *name, cf_pipeline *p, cf_error *err);

cf_status cf_server_start(cf_server *s, cf_error *err);
int cf_server_port(const cf_server *s);

/* Stop accepting connections, let queued and running requests finish (up to `grace_ms`), then
 * close. Safe to call once; cf_server_free calls it if needed. */
void cf_server_stop(cf_server *s, int grace_ms);
void cf_server_free(cf_server *s);

#endif
