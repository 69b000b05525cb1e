/* The HTTP server over real HTTP on 127.0.0.1 (libcurl): routes, the Inference API against a
 * real pipeline from the fixtures, KServe v2, error statuses for bad requests, queue limits,
 * slow clients and graceful shutdown (with a stand-in model whose timing the test controls). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "pipelines/text_generation.h"
#include "server/server.h"

/* ---- stand-in models whose timing the test controls ---- */

static atomic_int g_echo_sleep_ms;
static atomic_int g_echo_runs;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool lists_bad(const cJSON *inputs)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, inputs)
    {
        if (cJSON_IsString(item) && !strcmp(item->valuestring, "bad"))
            return true;
    }
    return cJSON_IsString(inputs) && !strcmp(inputs->valuestring, "bad");
}

/* Echoes the inputs after sleeping g_echo_sleep_ms; the input "bad" (alone or in a list) fails. */
static cf_status echo_run(void *ctx, const char *payload, char **out, cf_error *err)
{
    atomic_fetch_add(&g_echo_runs, 1);
    sleep_ms(atomic_load(&g_echo_sleep_ms));
    cJSON *root = cJSON_Parse(payload);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    cf_status s = CF_OK;
    if (!cJSON_IsString(inputs) && !cJSON_IsArray(inputs))
        s = cf_fail(err, CF_ERR_INVALID_ARG, "echo: inputs must be a string or a list");
    else if (lists_bad(inputs))
        s = cf_fail(err, CF_ERR_INVALID_ARG, "echo: the input 'bad' is refused");
    else
        *out = cJSON_PrintUnformatted(inputs);
    cJSON_Delete(root);
    return s;
}

/* "Generates" its input one character per piece, g_echo_sleep_ms apart. Input "fail-early" fails
 * before any piece, "fail-late" after two. */
static cf_status writer_stream(void *ctx, const char *payload, cf_stream_fn on_text, void *stream_ctx, char **out,
                               cf_error *err)
{
    cJSON *root = cJSON_Parse(payload);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    cf_status s = CF_OK;
    if (!cJSON_IsString(inputs) || !strcmp(inputs->valuestring, "fail-early")) {
        s = cf_fail(err, CF_ERR_INVALID_ARG, "writer: cannot write this");
    } else {
        const char *text = inputs->valuestring;
        for (size_t i = 0; text[i] && s == CF_OK; i++) {
            if (i == 2 && !strcmp(text, "fail-late"))
                s = cf_fail(err, CF_ERR_INTERNAL, "writer: broke down midway");
            else
                on_text(stream_ctx, text + i, 1);
            sleep_ms(atomic_load(&g_echo_sleep_ms));
        }
        cJSON *list = cJSON_CreateArray(), *rec = cJSON_CreateObject();
        cJSON_AddStringToObject(rec, "generated_text", text);
        cJSON_AddItemToArray(list, rec);
        *out = s == CF_OK ? cJSON_PrintUnformatted(list) : NULL;
        cJSON_Delete(list);
    }
    cJSON_Delete(root);
    return s;
}

static void ignore_text(void *ctx, const char *text, size_t len) {}

static cf_status writer_run(void *ctx, const char *payload, char **out, cf_error *err)
{
    return writer_stream(ctx, payload, ignore_text, NULL, out, err);
}

static cf_server_model echo_model(const char *name, const char *task)
{
    cf_server_model m = {.run = echo_run};
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.task, sizeof m.task, "%s", task);
    return m;
}

#include "fixture_case.h"

/* ---- server per test ---- */

static cf_server *g_server;
static cf_pipeline *g_pipe;
static fixture_case g_case;
static char g_base[64];

/* Stand-ins "echo" (text-classification), "pixels" (image-classification), "writer" (streams
 * text generation) and "lists" (batchable); with `tasks`, also the first fixture case running
 * one of them, from `family` (NULL: any), as "org/model". */
static void start_server(cf_server_config cfg, const char *family, const char *const *tasks)
{
    cf_error err = {0};
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cr_assert_eq(cf_server_new(&cfg, &g_server, &err), CF_OK, "%s", err.message);
    cf_server_model models[] = {echo_model("echo", "text-classification"), echo_model("pixels", "image-classification"),
                                echo_model("writer", "text-generation"), echo_model("lists", "feature-extraction")};
    models[2].run = writer_run;
    models[2].run_stream = writer_stream;
    models[3].batchable = true;
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        cr_assert_eq(cf_server_add_model(g_server, &models[i], &err), CF_OK, "%s", err.message);
    if (tasks) {
        cr_assert(find_case(family, tasks, &g_case), "no %s fixture under %s/%s", tasks[0], cf_test_fixtures(),
                  family ? family : "");
        cr_assert_eq(cf_pipeline_open(g_case.task, g_case.dir, NULL, &g_pipe, &err), CF_OK, "%s", err.message);
        cr_assert_eq(cf_server_add_pipeline(g_server, "org/model", g_pipe, &err), CF_OK, "%s", err.message);
    }
    cr_assert_eq(cf_server_start(g_server, &err), CF_OK, "%s", err.message);
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", cf_server_port(g_server));
}

static void setup(void)
{
    atomic_store(&g_echo_sleep_ms, 0);
    atomic_store(&g_echo_runs, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    cf_server_free(g_server);
    g_server = NULL;
    cf_pipeline_free(g_pipe);
    g_pipe = NULL;
    free(g_case.payload);
    memset(&g_case, 0, sizeof g_case);
    curl_global_cleanup();
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 60);

typedef struct reply {
    long status;
    cf_buf body;
    char content_type[128];
} reply;

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
    cf_buf_append(&((reply *)ud)->body, data, size * n);
    return size * n;
}

/* One request; body NULL = GET. type NULL = application/json. chunked: no Content-Length. */
static reply request(const char *method, const char *path, const char *body, size_t len, const char *type,
                     bool chunked)
{
    reply r = {0};
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", g_base, path);
    struct curl_slist *h = NULL;
    char ct[160];
    snprintf(ct, sizeof ct, "Content-Type: %s", type ? type : "application/json");
    h = curl_slist_append(h, ct);
    if (chunked)
        h = curl_slist_append(h, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (!chunked)
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
        char *t = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &t);
        snprintf(r.content_type, sizeof r.content_type, "%s", t ? t : "");
    }
    if (!r.body.data)
        cf_buf_puts(&r.body, "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static reply post(const char *path, const char *json) { return request("POST", path, json, strlen(json), NULL, false); }
static reply get(const char *path) { return request("GET", path, NULL, 0, NULL, false); }

/* An error reply: the status, and a JSON body {"error": str, "error_type": str}. */
static void assert_error(reply *r, long status, const char *needle)
{
    cr_assert_eq(r->status, status, "expected %ld, got %ld: %s", status, r->status, r->body.data);
    cJSON *j = cJSON_Parse(r->body.data);
    cr_assert(j, "error body is not JSON: %s", r->body.data);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    cr_assert(cJSON_IsString(e) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error_type")), "%s",
              r->body.data);
    if (needle)
        cr_assert(strstr(e->valuestring, needle), "error '%s' lacks '%s'", e->valuestring, needle);
    cJSON_Delete(j);
    cf_buf_free(&r->body);
}

Test(server, status_routes)
{
    start_server(cf_server_config_default(), NULL, NULL);
    reply r = get("/health");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"status\":\"ok\"") && strstr(r.body.data, "\"echo\""), "%s", r.body.data);
    cf_buf_free(&r.body);
    r = get("/v2/health/ready");
    cr_assert_eq(r.status, 200);
    cf_buf_free(&r.body);
    r = get("/v2/health/live");
    cr_assert_eq(r.status, 200);
    cf_buf_free(&r.body);
    r = get("/v2/models/echo");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"name\":\"echo\""), "%s", r.body.data);
    cf_buf_free(&r.body);
    r = get("/");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.content_type, "text/html") && strstr(r.body.data, "cformer playground"));
    cr_assert(!strstr(r.body.data, "http://") && !strstr(r.body.data, "https://"), "the page must load nothing else");
    cf_buf_free(&r.body);
    r = post("/models/echo", "{\"inputs\": \"x\"}");
    cf_buf_free(&r.body);
    r = get("/metrics");
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "cformer_requests_total{code=\"2xx\"}"), "%s", r.body.data);
    cr_assert(strstr(r.body.data, "cformer_request_duration_seconds_bucket{le=\"+Inf\"}"), "%s", r.body.data);
    cr_assert(strstr(r.body.data, "cformer_queue_depth 0"), "%s", r.body.data);
    cf_buf_free(&r.body);
}

Test(server, inference_api_matches_the_pipeline)
{
    start_server(cf_server_config_default(), NULL, k_classification);
    const char *payload = "{\"inputs\": [\"I love this.\", \"This is terrible.\"], \"parameters\": {\"top_k\": 2}}";
    cf_result *res = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_run(g_pipe, payload, &res, &err), CF_OK, "%s", err.message);
    reply r = post("/models/org/model", payload);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert_str_eq(r.body.data, cf_result_json(res));
    cr_assert(strstr(r.content_type, "application/json"));
    cf_buf_free(&r.body);
    cf_result_free(res);

    /* POST / goes to the first model. */
    r = post("/", "{\"inputs\": \"a\"}");
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body.data, "\"a\"");
    cf_buf_free(&r.body);
}

Test(server, bad_requests_get_json_errors)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.max_body_bytes = 4096;
    cfg.max_input_chars = 1000;
    cfg.max_new_tokens = 50;
    start_server(cfg, NULL, k_classification);
    reply r = post("/models/org/model", "{\"inputs\": ");
    assert_error(&r, 400, "malformed JSON");
    r = post("/models/org/model", "{\"inputs\": 5}");
    assert_error(&r, 422, NULL);
    r = post("/models/org/model", "{\"inputs\": \"x\", \"parameters\": {\"top_k\": \"two\"}}");
    assert_error(&r, 422, "top_k");
    r = post("/models/org/model", "{\"inputs\": \"x\", \"parameters\": [1]}");
    assert_error(&r, 422, "parameters");
    r = post("/models/org/model", "[\"x\"]");
    assert_error(&r, 422, NULL);
    r = post("/models/org/model", "{\"parameters\": {}}");
    assert_error(&r, 422, "inputs");
    r = post("/models/org/model", "{\"inputs\": \"x\", \"stream\": \"yes\"}");
    assert_error(&r, 422, "stream");
    r = post("/models/echo", "{\"inputs\": \"x\", \"parameters\": {\"max_new_tokens\": 5000}}");
    assert_error(&r, 422, "max_new_tokens");
    r = post("/models/no-such/model", "{\"inputs\": \"x\"}");
    assert_error(&r, 404, "not loaded");
    r = post("/v2/models/no-such/infer", "{}");
    assert_error(&r, 404, "not loaded");
    r = get("/nowhere");
    assert_error(&r, 404, NULL);
    r = get("/models/echo");
    assert_error(&r, 405, NULL);
    r = request("DELETE", "/models/echo", NULL, 0, NULL, false);
    assert_error(&r, 405, NULL);
    r = request("POST", "/models/echo", "\x89PNG", 4, "image/png", false);
    assert_error(&r, 415, "JSON");

    /* Oversized: announced by Content-Length, and chunked without one. */
    size_t big = 10000;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    memcpy(body, "{\"inputs\": \"", 12);
    body[big - 2] = '"';
    body[big - 1] = '}';
    body[big] = '\0';
    r = request("POST", "/models/echo", body, big, NULL, false);
    assert_error(&r, 413, NULL);
    r = request("POST", "/models/echo", body, big, NULL, true);
    assert_error(&r, 413, NULL);
    free(body);
    /* A long text within the body limit but over the input limit. */
    char text[3000];
    memset(text, 'a', sizeof text);
    snprintf(text, sizeof text, "{\"inputs\": \"%02000d\"}", 0);
    r = post("/models/echo", text);
    assert_error(&r, 413, "characters");

    /* Still healthy afterwards. */
    r = post("/models/org/model", "{\"inputs\": \"fine\"}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cf_buf_free(&r.body);
}

Test(server, kserve_v2_infer)
{
    start_server(cf_server_config_default(), NULL, k_classification);
    reply r = post("/v2/models/org/model/infer",
                   "{\"id\": \"r1\", \"inputs\": [{\"name\": \"text\", \"shape\": [2], \"datatype\": \"BYTES\", "
                   "\"data\": [\"good\", \"bad\"]}], \"parameters\": {\"top_k\": 1}}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cJSON *j = cJSON_Parse(r.body.data);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model_name")->valuestring, "org/model");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "r1");
    const cJSON *out = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "outputs"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(out, "datatype")->valuestring, "BYTES");
    const cJSON *data = cJSON_GetObjectItem(out, "data");
    cr_assert_eq(cJSON_GetArraySize(data), 2, "one result per input: %s", r.body.data);
    cJSON *first = cJSON_Parse(cJSON_GetArrayItem(data, 0)->valuestring);
    cr_assert(cJSON_GetObjectItem(first, "label") || cJSON_GetArrayItem(first, 0), "%s", r.body.data);
    cJSON_Delete(first);
    cJSON_Delete(j);
    cf_buf_free(&r.body);

    r = post("/v2/models/org/model/infer", "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"data\": [1]}]}");
    assert_error(&r, 422, "BYTES");
    r = post("/v2/models/org/model/infer", "{\"inputs\": []}");
    assert_error(&r, 422, "inputs");
    r = post("/v2/models/org/model/infer", "{nope");
    assert_error(&r, 400, "JSON");
}

/* ---- streaming ---- */

/* The events of a text/event-stream body: each "data:" payload parsed as JSON. */
static size_t parse_events(const char *body, cJSON **events, size_t max)
{
    size_t n = 0;
    const char *p = body;
    while (*p && n < max) {
        const char *end = strstr(p, "\n\n");
        cr_assert(end, "an event is not ended by a blank line: %s", p);
        cr_assert(!strncmp(p, "data:", 5), "not a data line: %.40s", p);
        char *json = strndup(p + 5, (size_t)(end - p - 5));
        events[n] = cJSON_Parse(json);
        cr_assert(events[n], "event %zu is not JSON: %s", n, json);
        free(json);
        n++;
        p = end + 2;
    }
    return n;
}

typedef struct stream_stats {
    size_t n;           /* events */
    cf_buf text;        /* the token texts joined */
    char *generated;    /* the last event's generated_text */
    char *error;        /* an error event's message */
} stream_stats;

/* Check each event's shape (index 1, 2, ...; token {id, text, logprob, special}; generated_text
 * null until the last) and gather what the stream says. */
static stream_stats read_stream(const char *body)
{
    static cJSON *events[4096];
    stream_stats st = {0};
    st.n = parse_events(body, events, 4096);
    for (size_t i = 0; i < st.n; i++) {
        cJSON *e = events[i];
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
        if (err) {
            cr_assert_eq(i, st.n - 1, "an error event ends the stream");
            cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "error_type")));
            st.error = strdup(err->valuestring);
            cJSON_Delete(e);
            break;
        }
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(e, "index");
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(e, "token");
        const cJSON *gen = cJSON_GetObjectItemCaseSensitive(e, "generated_text");
        cr_assert(cJSON_IsNumber(index) && index->valueint == (int)i + 1, "event %zu has index %d", i,
                  index ? index->valueint : -1);
        cr_assert(cJSON_IsObject(tok) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(tok, "text")) &&
                      cJSON_HasObjectItem(tok, "id") && cJSON_HasObjectItem(tok, "logprob") &&
                      cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(tok, "special")),
                  "event %zu has no token {id, text, logprob, special}", i);
        cr_assert(cJSON_HasObjectItem(e, "details"));
        cf_buf_puts(&st.text, cJSON_GetObjectItemCaseSensitive(tok, "text")->valuestring);
        if (i + 1 < st.n) {
            cr_assert(cJSON_IsNull(gen), "generated_text comes with the last event only (event %zu)", i);
        } else {
            cr_assert(cJSON_IsString(gen), "the last event carries generated_text");
            st.generated = strdup(gen->valuestring);
        }
        cJSON_Delete(e);
    }
    if (!st.text.data)
        cf_buf_puts(&st.text, "");
    return st;
}

static void stream_stats_free(stream_stats *st)
{
    cf_buf_free(&st->text);
    free(st->generated);
    free(st->error);
}

/* curl write callback counting the separate arrivals of a streamed body. */
typedef struct arrivals {
    cf_buf body;
    int chunks;
} arrivals;

static size_t on_arrival(char *data, size_t size, size_t n, void *ud)
{
    arrivals *a = ud;
    cf_buf_append(&a->body, data, size * n);
    a->chunks++;
    return size * n;
}

Test(server, stream_sends_events_as_text_is_generated)
{
    start_server(cf_server_config_default(), NULL, NULL);
    atomic_store(&g_echo_sleep_ms, 60);
    arrivals a = {0};
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "%s/models/writer", g_base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{\"inputs\": \"abcdef\", \"stream\": true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_arrival);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    cr_assert_eq(status, 200);
    cr_assert(type && strstr(type, "text/event-stream"), "%s", type ? type : "(none)");
    curl_easy_cleanup(c);
    cf_buf_puts(&a.body, "");
    stream_stats st = read_stream(a.body.data);
    cr_assert_eq(st.n, 6, "one event per piece: %s", a.body.data);
    cr_assert_str_eq(st.text.data, "abcdef");
    cr_assert_str_eq(st.generated, "abcdef");
    /* Pieces 60 ms apart arrive separately, not as one body at the end. */
    cr_assert_geq(a.chunks, 3, "the events arrived in %d chunk(s): not streamed", a.chunks);
    stream_stats_free(&st);
    cf_buf_free(&a.body);
}

Test(server, stream_errors)
{
    start_server(cf_server_config_default(), NULL, NULL);
    /* Before anything was sent: a plain JSON error with its status. */
    reply r = post("/models/writer", "{\"inputs\": \"fail-early\", \"stream\": true}");
    assert_error(&r, 422, "cannot write");
    /* Midway: the events so far, then an error event, then the end. */
    r = post("/models/writer", "{\"inputs\": \"fail-late\", \"stream\": true}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    stream_stats st = read_stream(r.body.data);
    cr_assert(st.error && strstr(st.error, "midway"), "%s", r.body.data);
    cr_assert_eq(st.n, 2, "one token event, then the error: %s", r.body.data);
    stream_stats_free(&st);
    cf_buf_free(&r.body);
    /* A model that does not stream: its output as one event. */
    r = post("/models/echo", "{\"inputs\": \"hello\", \"stream\": true}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert(strstr(r.content_type, "text/event-stream"), "%s", r.content_type);
    cr_assert_str_eq(r.body.data, "data:\"hello\"\n\n");
    cf_buf_free(&r.body);
}

/* The counter value in a /metrics text. */
static double metric(const char *name)
{
    reply r = get("/metrics");
    cr_assert_eq(r.status, 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(r.body.data, key);
    cr_assert(at, "no %s in /metrics", name);
    double v = strtod(at + strlen(key), NULL);
    cf_buf_free(&r.body);
    return v;
}

static uint64_t thread_tokens(void) { return cf_text_generation_thread_tokens(); }

Test(server, text_generation_streams_the_same_text)
{
    start_server(cf_server_config_default(), "llama", k_generation);
    /* Directly: the output, the pieces and how many tokens were generated. */
    cf_result *res = NULL;
    cf_error err = {0};
    uint64_t before = thread_tokens();
    cr_assert_eq(cf_pipeline_run(g_pipe, g_case.payload, &res, &err), CF_OK, "%s", err.message);
    uint64_t n_tokens = thread_tokens() - before;
    cr_assert_gt(n_tokens, 0);
    cJSON *expected = cJSON_Parse(cf_result_json(res));
    const char *full = cJSON_GetObjectItem(cJSON_GetArrayItem(expected, 0), "generated_text")->valuestring;

    reply plain = post("/models/org/model", g_case.payload);
    cr_assert_eq(plain.status, 200, "%s", plain.body.data);
    cr_assert_str_eq(plain.body.data, cf_result_json(res));
    cf_buf_free(&plain.body);

    cJSON *body = cJSON_Parse(g_case.payload);
    cJSON_AddTrueToObject(body, "stream");
    char *streamed = cJSON_PrintUnformatted(body);
    reply r = post("/models/org/model", streamed);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert(strstr(r.content_type, "text/event-stream"), "%s", r.content_type);
    stream_stats st = read_stream(r.body.data);
    cr_assert_null(st.error, "%s", st.error);
    cr_assert_str_eq(st.generated, full, "the last event's generated_text is the non-streamed output");
    /* The pieces are the new text: the output after the prompt (return_full_text) or all of it. */
    size_t nf = strlen(full), nt = st.text.len;
    cr_assert(nt <= nf && !strcmp(full + nf - nt, st.text.data), "pieces '%s' do not end '%s'", st.text.data, full);
    cr_assert_gt(st.n, 1);
    cr_assert_leq(st.n, n_tokens, "at most one event per token");
    /* Both requests' tokens are counted. */
    cr_assert_eq(metric("cformer_tokens_generated_total"), (double)(2 * n_tokens));
    stream_stats_free(&st);
    cf_buf_free(&r.body);
    free(streamed);
    cJSON_Delete(body);
    cJSON_Delete(expected);
    cf_result_free(res);
}

/* ---- raw bytes ---- */

static char *read_all(const char *path, size_t *len)
{
    char *data = NULL;
    cr_assert_eq(cf_read_file(path, 1u << 26, &data, len, NULL), CF_OK, "cannot read %s", path);
    return data;
}

/* POST the case's input file as the body and compare with the pipeline run on the file path (a
 * raw body carries no parameters). */
static void assert_raw_body_matches(const char *type)
{
    size_t len = 0;
    char *bytes = read_all(g_case.arg, &len);
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "inputs", g_case.arg);
    char *text = cJSON_PrintUnformatted(payload);
    cf_result *res = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_run(g_pipe, text, &res, &err), CF_OK, "%s", err.message);
    reply r = request("POST", "/models/org/model", bytes, len, type, false);
    cr_assert_eq(r.status, 200, "raw %s body of %s: %s", type, g_case.arg, r.body.data);
    cr_assert_str_eq(r.body.data, cf_result_json(res), "raw %s body of %s", type, g_case.arg);
    cf_buf_free(&r.body);
    cf_result_free(res);
    free(text);
    cJSON_Delete(payload);
    free(bytes);
}

static const char *media_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } k_types[] = {{".png", "image/png"}, {".jpg", "image/jpeg"}, {".wav", "audio/wav"}, {".flac", "audio/flac"},
                   {".mp3", "audio/mpeg"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof k_types / sizeof k_types[0]; i++)
        if (!strcasecmp(dot, k_types[i].ext))
            return k_types[i].type;
    return "application/octet-stream";
}

Test(server, raw_image_body_matches_the_pipeline)
{
    start_server(cf_server_config_default(), NULL, k_image_classification);
    assert_raw_body_matches(media_type(g_case.arg));
}

Test(server, raw_audio_body_matches_the_pipeline)
{
    start_server(cf_server_config_default(), NULL, k_audio_classification);
    assert_raw_body_matches(media_type(g_case.arg));
    /* Bytes that are no audio file: a clear 422. */
    reply r = request("POST", "/models/org/model", "RIFF\x10\0\0\0WAVEfmt ", 16, "audio/wav", false);
    assert_error(&r, 422, NULL);
}

Test(server, raw_bytes_for_vision_tasks)
{
    start_server(cf_server_config_default(), NULL, NULL);
    reply r = request("POST", "/models/pixels", "\x89PNG\r\n", 6, "image/png", false);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert_str_eq(r.body.data, "\"iVBORw0K\"", "the body arrives base64-encoded as inputs");
    cf_buf_free(&r.body);
}

/* ---- concurrency ---- */

typedef struct client {
    pthread_t thread;
    const char *path;
    reply r;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    c->r = post(c->path, "{\"inputs\": \"x\"}");
    return NULL;
}

Test(server, full_queue_answers_429)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.workers = 1;
    cfg.queue_capacity = 2;
    start_server(cfg, NULL, NULL);
    atomic_store(&g_echo_sleep_ms, 400);
    client clients[8];
    for (int i = 0; i < 8; i++) {
        clients[i].path = "/models/echo";
        pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(clients[i].thread, NULL);
        if (clients[i].r.status == 200)
            ok++;
        else
            assert_error(&clients[i].r, 429, "busy");
        busy += clients[i].r.status == 429;
        cf_buf_free(&clients[i].r.body);
    }
    cr_assert_geq(ok, 2, "the queued requests are answered");
    cr_assert_geq(busy, 1, "a full queue turns requests away");
    cr_assert_eq(ok + busy, 8);
}

Test(server, requests_waiting_too_long_get_503)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.workers = 1;
    cfg.request_timeout_ms = 150;
    start_server(cfg, NULL, NULL);
    atomic_store(&g_echo_sleep_ms, 500);
    client a = {.path = "/models/echo"}, b = {.path = "/models/echo"};
    pthread_create(&a.thread, NULL, client_main, &a);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    pthread_create(&b.thread, NULL, client_main, &b);
    pthread_join(a.thread, NULL);
    pthread_join(b.thread, NULL);
    cr_assert_eq(a.r.status, 200);
    assert_error(&b.r, 503, "waited too long");
    cf_buf_free(&a.r.body);
}

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cf_server_port(g_server))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

Test(server, slow_partial_requests_are_cut_off)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.connection_timeout_s = 1;
    start_server(cfg, NULL, NULL);
    /* Slowloris: headers never finished, and a body that never arrives. */
    int half_headers = raw_connect(), half_body = raw_connect();
    const char *h1 = "POST /models/echo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    const char *h2 = "POST /models/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inputs\"";
    cr_assert(send(half_headers, h1, strlen(h1), 0) > 0);
    cr_assert(send(half_body, h2, strlen(h2), 0) > 0);
    /* Others are served meanwhile. */
    reply r = post("/models/echo", "{\"inputs\": \"meanwhile\"}");
    cr_assert_eq(r.status, 200);
    cf_buf_free(&r.body);
    /* The server hangs up on both within the timeout (+ slack), without answering a request. */
    char buf[256];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t n1 = recv(half_headers, buf, sizeof buf, 0);
    ssize_t n2 = recv(half_body, buf, sizeof buf, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_leq(n1, 0, "the half-sent headers got an answer");
    cr_assert_leq(n2, 0, "the half-sent body got an answer");
    cr_assert_lt(t1.tv_sec - t0.tv_sec, 5, "the slow connections were not closed");
    close(half_headers);
    close(half_body);
    cr_assert_eq(atomic_load(&g_echo_runs), 1, "only the complete request ran");
}

Test(server, stop_finishes_requests_in_flight)
{
    start_server(cf_server_config_default(), NULL, NULL);
    atomic_store(&g_echo_sleep_ms, 400);
    client a = {.path = "/models/echo"};
    pthread_create(&a.thread, NULL, client_main, &a);
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    cf_server_stop(g_server, 5000);
    pthread_join(a.thread, NULL);
    cr_assert_eq(a.r.status, 200, "the in-flight request must complete (%ld)", a.r.status);
    cr_assert_str_eq(a.r.body.data, "\"x\"");
    cf_buf_free(&a.r.body);
    reply r = get("/health");
    cr_assert_eq(r.status, 0, "a stopped server accepts no connection");
    cf_buf_free(&r.body);
}

/* ---- dynamic batching ---- */

typedef struct poster {
    pthread_t thread;
    const char *path, *body;
    reply r;
} poster;

static void *poster_main(void *arg)
{
    poster *p = arg;
    p->r = post(p->path, p->body);
    return NULL;
}

/* Occupy the only worker with a slow request, queue `n` bodies behind it, wait for all. */
static void post_behind_a_blocker(const char *path, const char *const *bodies, size_t n, poster *out)
{
    atomic_store(&g_echo_sleep_ms, 400);
    poster blocker = {.path = "/models/echo", .body = "{\"inputs\": \"block\"}"};
    pthread_create(&blocker.thread, NULL, poster_main, &blocker);
    sleep_ms(100);
    for (size_t i = 0; i < n; i++) {
        out[i] = (poster){.path = path, .body = bodies[i]};
        pthread_create(&out[i].thread, NULL, poster_main, &out[i]);
        sleep_ms(10); /* keep their order in the queue */
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(out[i].thread, NULL);
    pthread_join(blocker.thread, NULL);
    cr_assert_eq(blocker.r.status, 200);
    cf_buf_free(&blocker.r.body);
    atomic_store(&g_echo_sleep_ms, 0);
}

Test(server, batched_results_equal_unbatched_runs)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.workers = 1;
    cfg.max_batch = 6;
    start_server(cfg, NULL, k_classification);
    static const char *const bodies[] = {
        "{\"inputs\": \"I love this.\"}",
        "{\"inputs\": [\"Terrible.\", \"Fine, I guess.\"]}",
        "{\"inputs\": \"What a day.\", \"parameters\": {\"top_k\": 2}}",
        "{\"inputs\": \"So so.\"}",
        "{\"inputs\": [\"Great!\", \"Awful!\", \"Meh.\"]}",
        "{\"inputs\": \"Not bad.\", \"parameters\": {\"top_k\": 2}}",
        "{\"inputs\": [\"One\", \"two\"], \"parameters\": {\"top_k\": null}}",
        "{\"inputs\": \"Last one.\"}",
    };
    size_t n = sizeof bodies / sizeof bodies[0];
    poster p[8];
    post_behind_a_blocker("/models/org/model", bodies, n, p);
    for (size_t i = 0; i < n; i++) {
        cf_result *res = NULL;
        cf_error err = {0};
        cr_assert_eq(cf_pipeline_run(g_pipe, bodies[i], &res, &err), CF_OK, "%s", err.message);
        cr_assert_eq(p[i].r.status, 200, "%s: %s", bodies[i], p[i].r.body.data);
        cr_assert_str_eq(p[i].r.body.data, cf_result_json(res), "batched answer to %s", bodies[i]);
        cf_result_free(res);
        cf_buf_free(&p[i].r.body);
    }
    /* They queued together, so some ran as shared calls. */
    cr_assert_geq(metric("cformer_batches_total"), 1);
    cr_assert_geq(metric("cformer_batched_requests_total"), 2);
}

Test(server, a_bad_input_fails_only_its_own_request)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.workers = 1;
    start_server(cfg, NULL, NULL);
    static const char *const bodies[] = {"{\"inputs\": \"a\"}", "{\"inputs\": \"bad\"}", "{\"inputs\": [\"b\", \"c\"]}",
                                         "{\"inputs\": \"d\", \"parameters\": {\"x\": 1}}"};
    poster p[4];
    post_behind_a_blocker("/models/lists", bodies, 4, p);
    cr_assert_eq(p[0].r.status, 200);
    cr_assert_str_eq(p[0].r.body.data, "\"a\"");
    assert_error(&p[1].r, 422, "refused");
    cr_assert_str_eq(p[2].r.body.data, "[\"b\",\"c\"]");
    cr_assert_str_eq(p[3].r.body.data, "\"d\"");
    for (int i = 0; i < 4; i++)
        cf_buf_free(&p[i].r.body);
    /* The failed shared call was retried request by request: blocker, batch, 3 singles, the other group. */
    cr_assert_eq(atomic_load(&g_echo_runs), 6, "runs: %d", atomic_load(&g_echo_runs));
}

Test(server, max_wait_gathers_requests_arriving_later)
{
    cf_server_config cfg = cf_server_config_default();
    cfg.workers = 1;
    cfg.max_batch = 3;
    cfg.max_wait_ms = 2000;
    start_server(cfg, NULL, NULL);
    poster p[3];
    for (int i = 0; i < 3; i++) {
        static const char *const bodies[] = {"{\"inputs\": \"x\"}", "{\"inputs\": \"y\"}", "{\"inputs\": \"z\"}"};
        p[i] = (poster){.path = "/models/lists", .body = bodies[i]};
        pthread_create(&p[i].thread, NULL, poster_main, &p[i]);
        sleep_ms(100);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(p[i].thread, NULL);
    cr_assert_str_eq(p[0].r.body.data, "\"x\"");
    cr_assert_str_eq(p[1].r.body.data, "\"y\"");
    cr_assert_str_eq(p[2].r.body.data, "\"z\"");
    for (int i = 0; i < 3; i++)
        cf_buf_free(&p[i].r.body);
    /* Full at 3 inputs: one call, without waiting out the 2 s. */
    cr_assert_eq(atomic_load(&g_echo_runs), 1);
    cr_assert_eq(metric("cformer_batched_requests_total"), 3);
}
