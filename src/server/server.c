#include "server/server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/buf.h"
#include "pipelines/text_generation.h"
#include "server/batch.h"
#include "server/kserve.h"
#include "server/metrics.h"
#include "server/playground.h"
#include "server/queue.h"
#include "server/sse.h"

#define MAX_MODELS 32
#define MAX_BATCH 256
#define JSON_TYPE "application/json"

struct cf_server {
    cf_server_config cfg;
    cf_server_model models[MAX_MODELS];
    size_t n_models;
    struct MHD_Daemon *daemon;
    int port;
    cf_job_queue queue;
    bool queue_started;
    cf_metrics metrics;
    atomic_int open_requests; /* requests with a job queued, running or answered but not completed */
    atomic_bool draining;     /* stop: new requests get 503, queued ones are still run */
    atomic_bool expired;      /* stop's grace is over: queued requests get 503 without running */
    bool stopped;
};

typedef enum { ROUTE_INFERENCE, ROUTE_KSERVE } route_kind;

typedef struct request {
    cf_job job; /* first: the queue hands this back */
    cf_server *server;
    struct MHD_Connection *conn;
    atomic_int refs; /* the connection's, and the worker's while queued or running */
    double started;
    cf_buf body;
    bool too_large;
    bool counted;   /* included in open_requests */
    bool finished;  /* a worker filled status/reply, or opened the event stream */
    route_kind route;
    const cf_server_model *model;
    char *payload;
    bool stream;
    char *group;    /* batchable: the body without "inputs" (the batch key) */
    cJSON *inputs;  /* batchable: the inputs */
    size_t n_inputs;
    size_t kserve_inputs;
    char *kserve_id;
    unsigned status;
    char *reply;
    const char *reply_type;
    /* an event stream: the worker appends events, the connection's reader sends them */
    pthread_mutex_t lock;
    bool streaming;      /* the response is the event stream */
    bool stream_done;    /* the last event is in */
    bool reader_waiting; /* the reader suspended the connection until more events come */
    bool gone;           /* the connection is over (the client left): nobody to resume */
    cf_buf events;
    size_t events_sent;
    char *held;          /* the newest piece: it becomes the final event if no other follows */
    size_t held_len;
    int64_t held_id;
    int n_events;
} request;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

cf_server_config cf_server_config_default(void)
{
    return (cf_server_config){.host = "127.0.0.1",
                              .port = 8080,
                              .max_body_bytes = 16u << 20,
                              .queue_capacity = 64,
                              .workers = 2,
                              .request_timeout_ms = 60000,
                              .connection_timeout_s = 15,
                              .max_connections = 512,
                              .max_input_chars = 100000,
                              .max_new_tokens = 1024,
                              .max_batch = 8,
                              .max_wait_ms = 0};
}

/* ---- responses ---- */

static const char *error_type(unsigned status)
{
    switch (status) {
    case 400: return "invalid_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 422: return "validation_error";
    case 429: return "overloaded";
    case 503: return "unavailable";
    default: return "internal_error";
    }
}

static char *error_json(unsigned status, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", message);
    cJSON_AddStringToObject(o, "error_type", error_type(status));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Queue a response; `body` is malloc'ed and owned by the response (NULL means empty). */
static enum MHD_Result send_owned(request *r, unsigned status, const char *type, char *body)
{
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body ? body : (void *)"",
                                                                body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (status == 429 || status == 503)
        MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    cf_metrics_observe(&r->server->metrics, status, now_seconds() - r->started);
    return ok;
}

static enum MHD_Result send_error(request *r, unsigned status, const char *fmt, ...) CF_PRINTF(3, 4);
static enum MHD_Result send_error(request *r, unsigned status, const char *fmt, ...)
{
    char message[CF_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return send_owned(r, status, JSON_TYPE, error_json(status, message));
}

static enum MHD_Result send_static(request *r, unsigned status, const char *type, const char *body)
{
    return send_owned(r, status, type, strdup(body));
}

/* ---- models ---- */

static const cf_server_model *find_model(const cf_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_models; i++)
        if (!strcmp(s->models[i].name, name))
            return &s->models[i];
    return NULL;
}

static void loaded_names(const cf_server *s, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < s->n_models; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? ", " : "", s->models[i].name);
    }
}

static char *models_json(const cf_server *s, bool health)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", s->models[i].name);
        cJSON_AddStringToObject(m, "task", s->models[i].task);
        cJSON_AddItemToArray(list, m);
    }
    cJSON *root = list;
    if (health) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "status", atomic_load(&s->draining) ? "draining" : "ok");
        cJSON_AddItemToObject(root, "models", list);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* ---- request lifetime ---- */

static void request_release(request *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    cf_buf_free(&r->body);
    free(r->payload);
    free(r->group);
    cJSON_Delete(r->inputs);
    free(r->kserve_id);
    free(r->reply);
    cf_buf_free(&r->events);
    free(r->held);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---- running a request on a worker ---- */

static unsigned status_for(cf_status st)
{
    switch (st) {
    case CF_OK: return 200;
    case CF_ERR_INVALID_ARG:
    case CF_ERR_FORMAT:
    case CF_ERR_UNSUPPORTED:
    case CF_ERR_SHAPE:
    case CF_ERR_NOT_FOUND: return 422;
    case CF_ERR_NOMEM: return 503;
    default: return 500;
    }
}

/* Hand the reply to the connection (suspended since it was queued) and wake it. */
static void finish(request *r, unsigned status, char *reply, const char *type)
{
    r->status = status;
    r->reply = reply;
    r->reply_type = type;
    r->finished = true;
    MHD_resume_connection(r->conn);
}

/* The worker is done with r. */
static void job_done(request *r)
{
    cf_metrics_queue(&r->server->metrics, 0, -1);
    request_release(r);
}

/* Leave the queue: false (and answered 503) when the request waited too long or the server is
 * past its shutdown grace. */
static bool admit(request *r)
{
    cf_server *s = r->server;
    cf_metrics_queue(&s->metrics, -1, 1);
    double waited_ms = (now_seconds() - r->started) * 1000.0;
    if (!atomic_load(&s->expired) && waited_ms <= s->cfg.request_timeout_ms)
        return true;
    finish(r, 503,
           error_json(503, atomic_load(&s->expired) ? "the server is shutting down"
                                                    : "the request waited too long in the queue; retry later"),
           JSON_TYPE);
    job_done(r);
    return false;
}

/* Answer a finished run: an error, the KServe response, a one-event stream or the JSON itself. */
static void reply_output(request *r, cf_status st, char *out, const cf_error *err)
{
    if (st != CF_OK) {
        free(out);
        finish(r, status_for(st), error_json(status_for(st), err->message), JSON_TYPE);
    } else if (r->route == ROUTE_KSERVE) {
        char *body = NULL;
        cf_error kerr = {0};
        st = cf_kserve_response(r->model->name, r->kserve_id, out, r->kserve_inputs, &body, &kerr);
        free(out);
        finish(r, st == CF_OK ? 200 : 500, st == CF_OK ? body : error_json(500, kerr.message), JSON_TYPE);
    } else if (r->stream) { /* a model without streaming: its output as one event */
        cf_buf b = {0};
        cf_sse_data(&b, out);
        free(out);
        finish(r, 200, cf_buf_steal(&b), "text/event-stream");
    } else {
        finish(r, 200, out, JSON_TYPE);
    }
}

/* Run the model, counting the tokens any text generation on this thread produced. */
static cf_status run_model(request *r, const char *payload, char **out, cf_error *err)
{
    uint64_t before = cf_text_generation_thread_tokens();
    cf_status st = r->model->run(r->model->ctx, payload, out, err);
    cf_metrics_add_tokens(&r->server->metrics, cf_text_generation_thread_tokens() - before);
    return st;
}

static void run_single(request *r)
{
    cf_error err = {0};
    char *out = NULL;
    cf_status st = run_model(r, r->payload, &out, &err);
    reply_output(r, st, out, &err);
}

/* ---- streamed generation ---- */

/* Called with r->lock held after events were added: open the stream, or wake its reader. */
static void stream_wake(request *r)
{
    if (r->gone)
        return;
    if (!r->streaming) {
        r->streaming = true;
        r->status = 200;
        r->finished = true;
        MHD_resume_connection(r->conn);
    } else if (r->reader_waiting) {
        r->reader_waiting = false;
        MHD_resume_connection(r->conn);
    }
}

/* The previous piece goes out; this one is held: whichever is last carries generated_text. */
static void on_piece(void *ctx, const char *text, size_t len)
{
    request *r = ctx;
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_mutex_lock(&r->lock);
    bool added = r->held != NULL;
    if (added)
        cf_sse_token(&r->events, ++r->n_events, r->held_id, r->held, r->held_len, NULL);
    free(r->held);
    r->held = copy;
    r->held_len = len;
    r->held_id = cf_text_generation_last_token();
    if (added)
        stream_wake(r);
    pthread_mutex_unlock(&r->lock);
}

static void run_streamed(request *r)
{
    cf_error err = {0};
    char *out = NULL;
    uint64_t before = cf_text_generation_thread_tokens();
    cf_status st = r->model->run_stream(r->model->ctx, r->payload, on_piece, r, &out, &err);
    cf_metrics_add_tokens(&r->server->metrics, cf_text_generation_thread_tokens() - before);
    pthread_mutex_lock(&r->lock);
    if (st != CF_OK && !r->streaming) { /* nothing sent yet: a plain error reply */
        pthread_mutex_unlock(&r->lock);
        reply_output(r, st, out, &err);
        return;
    }
    if (st != CF_OK) {
        char *e = error_json(status_for(st), err.message);
        cf_sse_data(&r->events, e);
        free(e);
    } else {
        char *text = cf_sse_generated_text(out);
        cf_sse_token(&r->events, ++r->n_events, r->held ? r->held_id : cf_text_generation_last_token(),
                     r->held ? r->held : "", r->held_len, text ? text : out);
        free(text);
    }
    free(out);
    r->stream_done = true;
    stream_wake(r);
    pthread_mutex_unlock(&r->lock);
}

/* MHD pulls the stream: what the worker has added, else suspend until it adds more. */
static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    request *r = cls;
    pthread_mutex_lock(&r->lock);
    size_t n = r->events.len - r->events_sent;
    ssize_t result = 0;
    if (n) {
        n = n < max ? n : max;
        memcpy(buf, r->events.data + r->events_sent, n);
        r->events_sent += n;
        if (r->events_sent == r->events.len) {
            cf_buf_clear(&r->events);
            r->events_sent = 0;
        }
        result = (ssize_t)n;
    } else if (r->stream_done) {
        result = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        r->reader_waiting = true;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
    return result;
}

static enum MHD_Result send_stream(request *r)
{
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_events, r, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    enum MHD_Result ok = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    cf_metrics_observe(&r->server->metrics, 200, now_seconds() - r->started); /* time to first event */
    return ok;
}

/* ---- batches ---- */

typedef struct batch_pick {
    const request *leader;
    size_t inputs, max;
} batch_pick;

static cf_pick pick_same_group(const cf_job *job, void *ctx)
{
    batch_pick *b = ctx;
    const request *r = (const request *)job;
    if (r->model != b->leader->model || !r->group || strcmp(r->group, b->leader->group) != 0)
        return CF_PICK_SKIP;
    if (b->inputs + r->n_inputs > b->max)
        return CF_PICK_STOP;
    b->inputs += r->n_inputs;
    return b->inputs == b->max ? CF_PICK_TAKE_LAST : CF_PICK_TAKE;
}

/* Run the members as one call and split the answer; if that fails, each runs on its own, so a
 * bad input gets its own error and the others their results. */
static void run_batch(request **m, size_t n)
{
    const cJSON *inputs[MAX_BATCH];
    for (size_t i = 0; i < n; i++)
        inputs[i] = m[i]->inputs;
    char *payload = cf_batch_payload(m[0]->group, inputs, n), *out = NULL, *parts[MAX_BATCH] = {0};
    cf_error err = {0};
    bool split = payload && run_model(m[0], payload, &out, &err) == CF_OK &&
                 cf_batch_split(m[0]->model->task, m[0]->group, out, inputs, n, parts);
    free(payload);
    free(out);
    if (split)
        cf_metrics_batch(&m[0]->server->metrics, n);
    for (size_t i = 0; i < n; i++) {
        if (split)
            finish(m[i], 200, parts[i], JSON_TYPE);
        else
            run_single(m[i]);
        job_done(m[i]);
    }
}

static void execute_batch(request *leader)
{
    cf_server *s = leader->server;
    cf_job *taken[MAX_BATCH];
    size_t max = s->cfg.max_batch < MAX_BATCH ? (size_t)s->cfg.max_batch : MAX_BATCH;
    batch_pick pick = {.leader = leader, .inputs = leader->n_inputs, .max = max};
    size_t n = 0;
    if (pick.inputs < max)
        n = cf_job_queue_gather(&s->queue, pick_same_group, &pick, now_seconds() + s->cfg.max_wait_ms / 1000.0,
                                taken, max - 1);
    request *members[MAX_BATCH];
    size_t k = 0;
    members[k++] = leader;
    for (size_t i = 0; i < n; i++)
        if (admit((request *)taken[i]))
            members[k++] = (request *)taken[i];
    if (k > 1) {
        run_batch(members, k);
        return;
    }
    run_single(leader);
    job_done(leader);
}

static void execute(cf_job *job)
{
    request *r = (request *)job;
    if (!admit(r))
        return;
    if (r->stream && r->model->run_stream) {
        run_streamed(r);
        job_done(r);
    } else if (r->group && r->server->cfg.max_batch > 1) {
        execute_batch(r);
    } else {
        run_single(r);
        job_done(r);
    }
}

/* ---- validating an Inference API body ---- */

static bool is_json_type(const char *type)
{
    if (!type || !*type)
        return true;
    /* `curl -d` sends form encoding; an Inference API body is JSON whatever the label says. */
    return !strncasecmp(type, "application/json", 16) || !strncasecmp(type, "text/plain", 10) ||
           !strncasecmp(type, "application/x-www-form-urlencoded", 33);
}

static bool takes_raw_bytes(const char *task)
{
    static const char *const words[] = {"audio", "speech", "image", "object", "depth", "segmentation", "vision"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(task, words[i]))
            return true;
    return false;
}

/* {"inputs": "<base64 of the body>"} for audio and image tasks. */
static char *raw_payload(const cf_buf *body)
{
    static const char head[] = "{\"inputs\":\"", tail[] = "\"}";
    size_t n = cf_base64_encoded_size(body->len);
    char *out = malloc(sizeof head - 1 + n + sizeof tail);
    if (!out)
        return NULL;
    memcpy(out, head, sizeof head - 1);
    cf_base64_encode_to((const uint8_t *)body->data, body->len, out + sizeof head - 1);
    memcpy(out + sizeof head - 1 + n, tail, sizeof tail);
    return out;
}

/* The longest string anywhere in v (texts, questions, contexts). */
static size_t longest_string(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strlen(v->valuestring);
    size_t best = 0;
    const cJSON *item;
    if (cJSON_IsArray(v) || cJSON_IsObject(v))
        cJSON_ArrayForEach(item, v)
        {
            size_t n = longest_string(item);
            best = n > best ? n : best;
        }
    return best;
}

/* 0 when fine, else the status of the error written to msg. */
static unsigned check_inference_body(request *r, const cJSON *root, char *msg, size_t size)
{
    const cf_server_config *cfg = &r->server->cfg;
    if (!cJSON_IsObject(root)) {
        snprintf(msg, size, "the body must be a JSON object {\"inputs\": ..., \"parameters\": {...}}");
        return 422;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!inputs) {
        snprintf(msg, size, "the body has no \"inputs\"");
        return 422;
    }
    /* Audio and image inputs are base64 of files: only the body limit applies to them. */
    if (!takes_raw_bytes(r->model->task) && longest_string(inputs) > (size_t)cfg->max_input_chars) {
        snprintf(msg, size, "an input is longer than the server's limit of %d characters", cfg->max_input_chars);
        return 413;
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (params && !cJSON_IsObject(params) && !cJSON_IsNull(params)) {
        snprintf(msg, size, "\"parameters\" must be an object");
        return 422;
    }
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(params, "max_new_tokens");
    if (cJSON_IsNumber(tokens) && tokens->valuedouble > cfg->max_new_tokens) {
        snprintf(msg, size, "max_new_tokens %g is over the server's limit of %d", tokens->valuedouble,
                 cfg->max_new_tokens);
        return 422;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (stream && !cJSON_IsBool(stream)) {
        snprintf(msg, size, "\"stream\" must be true or false");
        return 422;
    }
    r->stream = cJSON_IsTrue(stream);
    return 0;
}

/* Turn the received body into r->payload, or answer the error. Returns true when queued-ready. */
static bool prepare_payload(request *r, const char *content_type, enum MHD_Result *result)
{
    char msg[512];
    if (r->route == ROUTE_KSERVE) {
        cf_error err = {0};
        cf_status st = cf_kserve_request_to_payload(r->body.data ? r->body.data : "", r->body.len, &r->payload,
                                                    &r->kserve_inputs, &r->kserve_id, &err);
        if (st != CF_OK)
            *result = send_error(r, st == CF_ERR_FORMAT ? 400 : 422, "%s", err.message);
        return st == CF_OK;
    }
    if (!is_json_type(content_type)) {
        if (!takes_raw_bytes(r->model->task)) {
            *result = send_error(r, 415, "model '%s' (%s) takes a JSON body, not %s", r->model->name, r->model->task,
                                 content_type);
            return false;
        }
        r->payload = raw_payload(&r->body);
        if (!r->payload)
            *result = send_error(r, 503, "out of memory for the request body");
        return r->payload != NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(r->body.data ? r->body.data : "", r->body.len, &end, false);
    if (!root) {
        size_t at = end && r->body.data ? (size_t)(end - r->body.data) : 0;
        *result = send_error(r, 400, "malformed JSON body near byte %zu", at);
        return false;
    }
    unsigned status = check_inference_body(r, root, msg, sizeof msg);
    if (status) {
        cJSON_Delete(root);
        *result = send_error(r, status, "%s", msg);
        return false;
    }
    if (cJSON_HasObjectItem(root, "stream")) { /* the server's key, not the pipeline's */
        cJSON_DeleteItemFromObjectCaseSensitive(root, "stream");
        r->payload = cJSON_PrintUnformatted(root);
    } else {
        r->payload = strndup(r->body.data, r->body.len);
    }
    if (r->model->batchable && !r->stream && cf_batch_key(root, &r->group, &r->n_inputs))
        r->inputs = cJSON_DetachItemFromObjectCaseSensitive(root, "inputs");
    cJSON_Delete(root);
    if (!r->payload)
        *result = send_error(r, 503, "out of memory for the request body");
    return r->payload != NULL;
}

/* ---- routing ---- */

static bool starts_with(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

static enum MHD_Result not_loaded(request *r, const char *name)
{
    char names[2048];
    loaded_names(r->server, names, sizeof names);
    return send_error(r, 404, "model '%s' is not loaded here (loaded: %s)", name, names);
}

static enum MHD_Result handle_get(request *r, const char *url)
{
    cf_server *s = r->server;
    if (!strcmp(url, "/"))
        return send_static(r, 200, "text/html; charset=utf-8", cf_playground_html);
    if (!strcmp(url, "/health") || !strcmp(url, "/models"))
        return send_owned(r, 200, JSON_TYPE, models_json(s, !strcmp(url, "/health")));
    if (!strcmp(url, "/metrics")) {
        cf_buf b = {0};
        cf_metrics_render(&s->metrics, &b);
        return send_owned(r, 200, "text/plain; version=0.0.4", cf_buf_steal(&b));
    }
    if (!strcmp(url, "/v2"))
        return send_static(r, 200, JSON_TYPE, "{\"name\":\"cformer\",\"version\":\"" CF_VERSION_STRING
                                              "\",\"extensions\":[]}");
    if (!strcmp(url, "/v2/health/live"))
        return send_static(r, 200, JSON_TYPE, "{\"live\":true}");
    if (!strcmp(url, "/v2/health/ready")) {
        bool ready = !atomic_load(&s->draining);
        return send_static(r, ready ? 200 : 503, JSON_TYPE, ready ? "{\"ready\":true}" : "{\"ready\":false}");
    }
    if (starts_with(url, "/v2/models/")) {
        char name[512];
        snprintf(name, sizeof name, "%s", url + strlen("/v2/models/"));
        size_t n = strlen(name);
        bool ready = n > 6 && !strcmp(name + n - 6, "/ready");
        if (ready)
            name[n - 6] = '\0';
        const cf_server_model *m = find_model(s, name);
        if (!m)
            return not_loaded(r, name);
        if (ready)
            return send_static(r, 200, JSON_TYPE, "{\"ready\":true}");
        return send_owned(r, 200, JSON_TYPE, cf_kserve_model_metadata(m->name, m->task));
    }
    if (starts_with(url, "/models/") || starts_with(url, "/v2/models/"))
        return send_error(r, 405, "use POST for inference");
    return send_error(r, 404, "no such route: GET %s", url);
}

/* Which model a POST is for; NULL after answering 404/405. */
static const cf_server_model *post_target(request *r, const char *url, enum MHD_Result *result)
{
    cf_server *s = r->server;
    char name[512] = "";
    if (!strcmp(url, "/")) {
        r->route = ROUTE_INFERENCE;
        if (s->n_models)
            return &s->models[0];
        *result = send_error(r, 404, "no model is loaded");
        return NULL;
    }
    size_t n = strlen(url);
    if (starts_with(url, "/v2/models/") && n > strlen("/v2/models/") + 6 && !strcmp(url + n - 6, "/infer")) {
        r->route = ROUTE_KSERVE;
        snprintf(name, sizeof name, "%.*s", (int)(n - 6 - strlen("/v2/models/")), url + strlen("/v2/models/"));
    } else if (starts_with(url, "/models/")) {
        r->route = ROUTE_INFERENCE;
        snprintf(name, sizeof name, "%s", url + strlen("/models/"));
    } else {
        *result = send_error(r, starts_with(url, "/v2/") || !strcmp(url, "/health") || !strcmp(url, "/metrics")
                                    ? 405
                                    : 404,
                             "no such route: POST %s", url);
        return NULL;
    }
    const cf_server_model *m = find_model(s, name);
    if (!m)
        *result = not_loaded(r, name);
    return m;
}

static enum MHD_Result handle_post(request *r, const char *url)
{
    cf_server *s = r->server;
    enum MHD_Result result = MHD_NO;
    if (!(r->model = post_target(r, url, &result)))
        return result;
    if (r->too_large)
        return send_error(r, 413, "the body is larger than the server's limit of %zu bytes", s->cfg.max_body_bytes);
    if (atomic_load(&s->draining))
        return send_error(r, 503, "the server is shutting down");
    const char *type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!prepare_payload(r, type, &result))
        return result;
    if (!cf_job_queue_reserve(&s->queue))
        return send_error(r, 429, "the server is busy: %d requests are already waiting; retry later",
                          s->cfg.queue_capacity);
    r->job.execute = execute;
    r->counted = true;
    atomic_fetch_add(&r->refs, 1); /* the worker's */
    atomic_fetch_add(&s->open_requests, 1);
    cf_metrics_queue(&s->metrics, 1, 0);
    MHD_suspend_connection(r->conn); /* before the push: a worker may resume it at once */
    cf_job_queue_push(&s->queue, &r->job);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    cf_server *s = cls;
    request *r = *con_cls;
    if (!r) { /* headers are in */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->server = s;
        r->conn = conn;
        atomic_init(&r->refs, 1);
        pthread_mutex_init(&r->lock, NULL);
        r->started = now_seconds();
        *con_cls = r;
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > s->cfg.max_body_bytes)
            r->too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a piece of the body */
        if (!r->too_large && r->body.len + *upload_data_size > s->cfg.max_body_bytes) {
            r->too_large = true;
            cf_buf_free(&r->body);
        }
        if (!r->too_large && !cf_buf_append(&r->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->finished && r->streaming) /* resumed by a worker with the first events */
        return send_stream(r);
    if (r->finished) { /* resumed by a worker */
        char *reply = r->reply;
        r->reply = NULL;
        return send_owned(r, r->status, r->reply_type, reply);
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return handle_get(r, url);
    if (!strcmp(method, "POST"))
        return handle_post(r, url);
    if (!strcmp(method, "OPTIONS"))
        return send_static(r, 204, "text/plain", "");
    return send_error(r, 405, "method %s is not supported", method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    cf_server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    if (r->counted)
        atomic_fetch_sub(&s->open_requests, 1);
    pthread_mutex_lock(&r->lock);
    r->gone = true; /* a worker still streaming into r must not resume it */
    pthread_mutex_unlock(&r->lock);
    request_release(r);
    *con_cls = NULL;
}

/* ---- lifecycle ---- */

cf_status cf_server_new(const cf_server_config *cfg, cf_server **out, cf_error *err)
{
    cf_server *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_server_config d = cf_server_config_default();
    s->cfg = cfg ? *cfg : d;
    if (!s->cfg.host || !*s->cfg.host)
        s->cfg.host = d.host;
#define DEFAULT_IF_ZERO(f) \
    if (s->cfg.f <= 0)     \
        s->cfg.f = d.f;
    DEFAULT_IF_ZERO(max_body_bytes)
    DEFAULT_IF_ZERO(queue_capacity)
    DEFAULT_IF_ZERO(workers)
    DEFAULT_IF_ZERO(request_timeout_ms)
    DEFAULT_IF_ZERO(connection_timeout_s)
    DEFAULT_IF_ZERO(max_connections)
    DEFAULT_IF_ZERO(max_input_chars)
    DEFAULT_IF_ZERO(max_new_tokens)
    DEFAULT_IF_ZERO(max_batch)
#undef DEFAULT_IF_ZERO
    if (s->cfg.max_wait_ms < 0)
        s->cfg.max_wait_ms = 0;
    if (s->cfg.port < 0 || s->cfg.port > 65535) {
        int port = s->cfg.port;
        free(s);
        return cf_fail(err, CF_ERR_INVALID_ARG, "port %d is out of range (0-65535)", port);
    }
    cf_metrics_init(&s->metrics);
    *out = s;
    return CF_OK;
}

cf_status cf_server_add_model(cf_server *s, const cf_server_model *m, cf_error *err)
{
    if (s->daemon)
        return cf_fail(err, CF_ERR_INVALID_ARG, "add models before starting the server");
    if (s->n_models == MAX_MODELS)
        return cf_fail(err, CF_ERR_NOMEM, "at most %d models per server", MAX_MODELS);
    if (!m->name[0] || find_model(s, m->name))
        return cf_fail(err, CF_ERR_INVALID_ARG, "model name '%s' is empty or already used", m->name);
    s->models[s->n_models++] = *m;
    return CF_OK;
}

static cf_status run_pipeline(void *ctx, const char *payload, char **out_json, cf_error *err)
{
    cf_result *r = NULL;
    CF_TRY(cf_pipeline_run(ctx, payload, &r, err));
    *out_json = strdup(cf_result_json(r));
    cf_result_free(r);
    return *out_json ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}

static cf_status run_pipeline_stream(void *ctx, const char *payload, cf_stream_fn on_text, void *stream_ctx,
                                     char **out_json, cf_error *err)
{
    cf_result *r = NULL;
    CF_TRY(cf_pipeline_run_stream(ctx, payload, on_text, stream_ctx, &r, err));
    *out_json = strdup(cf_result_json(r));
    cf_result_free(r);
    return *out_json ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}

/* The text pipelines answer a list of inputs with one result per input, each computed alone. */
static bool takes_input_lists(const char *task)
{
    static const char *const tasks[] = {"text-classification", "token-classification", "fill-mask",
                                        "feature-extraction"};
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++)
        if (!strcmp(task, tasks[i]))
            return true;
    return false;
}

cf_status cf_server_add_pipeline(cf_server *s, const char *name, cf_pipeline *p, cf_error *err)
{
    cf_server_model m = {.ctx = p, .run = run_pipeline};
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.task, sizeof m.task, "%s", cf_pipeline_task(p));
    if (!strcmp(m.task, "text-generation"))
        m.run_stream = run_pipeline_stream;
    m.batchable = takes_input_lists(m.task);
    return cf_server_add_model(s, &m, err);
}

/* host:port as a socket address (numeric or a name such as localhost). */
static cf_status bind_address(const cf_server *s, struct sockaddr_storage *addr, bool *ipv6, cf_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int rc = getaddrinfo(s->cfg.host, port, &hints, &res);
    if (rc != 0 || !res)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cannot bind to host '%s': %s", s->cfg.host, gai_strerror(rc));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return CF_OK;
}

cf_status cf_server_start(cf_server *s, cf_error *err)
{
    if (s->n_models == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "no model to serve: pass -m MODEL");
    struct sockaddr_storage addr;
    bool ipv6 = false;
    CF_TRY(bind_address(s, &addr, &ipv6, err));
    CF_TRY(cf_job_queue_start(&s->queue, s->cfg.queue_capacity, s->cfg.workers, err));
    s->queue_started = true;
    unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)s->cfg.connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)s->cfg.max_connections, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        cf_job_queue_stop(&s->queue);
        s->queue_started = false;
        return cf_fail(err, CF_ERR_IO, "cannot listen on %s:%d (in use, or not an address of this machine?)",
                       s->cfg.host, s->cfg.port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    return CF_OK;
}

int cf_server_port(const cf_server *s) { return s->port; }

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void cf_server_stop(cf_server *s, int grace_ms)
{
    if (!s || s->stopped)
        return;
    s->stopped = true;
    atomic_store(&s->draining, true);
    MHD_socket listener = s->daemon ? MHD_quiesce_daemon(s->daemon) : MHD_INVALID_SOCKET;
    /* In-flight requests finish (and their responses go out) within the grace period... */
    for (int waited = 0; waited < grace_ms && atomic_load(&s->open_requests) > 0; waited += 10)
        sleep_ms(10);
    /* ...after it, queued ones are answered 503; running ones are waited for. */
    atomic_store(&s->expired, true);
    if (s->queue_started)
        cf_job_queue_stop(&s->queue);
    s->queue_started = false;
    for (int waited = 0; waited < 2000 && atomic_load(&s->open_requests) > 0; waited += 10)
        sleep_ms(10);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
}

void cf_server_free(cf_server *s)
{
    if (!s)
        return;
    cf_server_stop(s, 0);
    cf_metrics_destroy(&s->metrics);
    free(s);
}
