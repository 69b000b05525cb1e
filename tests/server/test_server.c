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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "server/server.h"

/* ---- a stand-in model: echoes the payload after sleeping "sleep_ms" ---- */

static atomic_int g_echo_sleep_ms;
static atomic_int g_echo_runs;

static cf_status echo_run(void *ctx, const char *payload, char **out, cf_error *err)
{
    atomic_fetch_add(&g_echo_runs, 1);
    int ms = atomic_load(&g_echo_sleep_ms);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    cJSON *root = cJSON_Parse(payload);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    cf_status s = CF_OK;
    if (!cJSON_IsString(inputs) && !cJSON_IsArray(inputs))
        s = cf_fail(err, CF_ERR_INVALID_ARG, "echo: inputs must be a string or a list");
    else
        *out = cJSON_PrintUnformatted(inputs);
    cJSON_Delete(root);
    return s;
}

static cf_server_model echo_model(const char *name, const char *task)
{
    cf_server_model m = {.run = echo_run};
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.task, sizeof m.task, "%s", task);
    return m;
}

/* ---- a real text-classification fixture, found by walking ---- */

static bool case_task_is(const char *dir, const char *const *tasks)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text = NULL;
    size_t len = 0;
    if (cf_read_file(path, 1u << 24, &text, &len, NULL) != CF_OK)
        return false;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *call = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "calls"), 0);
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(call, "call"), "task");
    bool match = false;
    for (int i = 0; tasks[i] && cJSON_IsString(task); i++)
        match |= !strcmp(task->valuestring, tasks[i]);
    cJSON_Delete(root);
    return match;
}

static bool find_classifier(char *out, size_t size)
{
    static const char *const tasks[] = {"text-classification", "sentiment-analysis", NULL};
    out[0] = '\0';
    DIR *d = opendir(cf_test_fixtures());
    if (!d)
        return false;
    char **families = NULL;
    size_t n_fam = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            families = realloc(families, (n_fam + 1) * sizeof *families);
            families[n_fam++] = strdup(e->d_name);
        }
    closedir(d);
    for (size_t f = 0; f < n_fam; f++) {
        char **cases = NULL;
        size_t n = cf_test_cases(families[f], "expected.json", &cases);
        for (size_t i = 0; i < n; i++)
            if ((!out[0] || strcmp(cases[i], out) < 0) && case_task_is(cases[i], tasks))
                snprintf(out, size, "%s", cases[i]);
        cf_test_free_list(cases, n);
    }
    for (size_t f = 0; f < n_fam; f++)
        free(families[f]);
    free(families);
    return out[0] != '\0';
}

/* ---- server per test ---- */

static cf_server *g_server;
static cf_pipeline *g_pipe;
static char g_base[64];

static void start_server(cf_server_config cfg, bool with_pipeline)
{
    cf_error err = {0};
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cr_assert_eq(cf_server_new(&cfg, &g_server, &err), CF_OK, "%s", err.message);
    cf_server_model echo = echo_model("echo", "text-classification");
    cf_server_model image = echo_model("pixels", "image-classification");
    cr_assert_eq(cf_server_add_model(g_server, &echo, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_server_add_model(g_server, &image, &err), CF_OK, "%s", err.message);
    if (with_pipeline) {
        char dir[4096];
        cr_assert(find_classifier(dir, sizeof dir), "no text-classification fixture under %s", cf_test_fixtures());
        cr_assert_eq(cf_pipeline_open("text-classification", dir, NULL, &g_pipe, &err), CF_OK, "%s", err.message);
        cr_assert_eq(cf_server_add_pipeline(g_server, "org/classifier", g_pipe, &err), CF_OK, "%s", err.message);
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
    start_server(cf_server_config_default(), false);
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
    start_server(cf_server_config_default(), true);
    const char *payload = "{\"inputs\": [\"I love this.\", \"This is terrible.\"], \"parameters\": {\"top_k\": 2}}";
    cf_result *res = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_run(g_pipe, payload, &res, &err), CF_OK, "%s", err.message);
    reply r = post("/models/org/classifier", payload);
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
    start_server(cfg, true);
    reply r = post("/models/org/classifier", "{\"inputs\": ");
    assert_error(&r, 400, "malformed JSON");
    r = post("/models/org/classifier", "{\"inputs\": 5}");
    assert_error(&r, 422, NULL);
    r = post("/models/org/classifier", "{\"inputs\": \"x\", \"parameters\": {\"top_k\": \"two\"}}");
    assert_error(&r, 422, "top_k");
    r = post("/models/org/classifier", "{\"inputs\": \"x\", \"parameters\": [1]}");
    assert_error(&r, 422, "parameters");
    r = post("/models/org/classifier", "[\"x\"]");
    assert_error(&r, 422, NULL);
    r = post("/models/org/classifier", "{\"parameters\": {}}");
    assert_error(&r, 422, "inputs");
    r = post("/models/org/classifier", "{\"inputs\": \"x\", \"stream\": \"yes\"}");
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
    r = post("/models/org/classifier", "{\"inputs\": \"fine\"}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cf_buf_free(&r.body);
}

Test(server, kserve_v2_infer)
{
    start_server(cf_server_config_default(), true);
    reply r = post("/v2/models/org/classifier/infer",
                   "{\"id\": \"r1\", \"inputs\": [{\"name\": \"text\", \"shape\": [2], \"datatype\": \"BYTES\", "
                   "\"data\": [\"good\", \"bad\"]}], \"parameters\": {\"top_k\": 1}}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cJSON *j = cJSON_Parse(r.body.data);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model_name")->valuestring, "org/classifier");
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

    r = post("/v2/models/org/classifier/infer", "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"data\": [1]}]}");
    assert_error(&r, 422, "BYTES");
    r = post("/v2/models/org/classifier/infer", "{\"inputs\": []}");
    assert_error(&r, 422, "inputs");
    r = post("/v2/models/org/classifier/infer", "{nope");
    assert_error(&r, 400, "JSON");
}

Test(server, stream_true_answers_server_sent_events)
{
    start_server(cf_server_config_default(), false);
    reply r = post("/models/echo", "{\"inputs\": \"hello\", \"stream\": true}");
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert(strstr(r.content_type, "text/event-stream"), "%s", r.content_type);
    cr_assert_str_eq(r.body.data, "data: \"hello\"\n\ndata: [DONE]\n\n");
    cf_buf_free(&r.body);
}

Test(server, raw_bytes_for_vision_tasks)
{
    start_server(cf_server_config_default(), false);
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
    start_server(cfg, false);
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
    start_server(cfg, false);
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
    start_server(cfg, false);
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
    start_server(cf_server_config_default(), false);
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
