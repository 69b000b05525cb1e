#include "io/hub_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define MAX_REDIRECTS 10
#define ERROR_BODY_MAX 300

struct cf_http_client {
    CURL *curl;
    cf_hub_options opt;
    char endpoint_origin[512];
    char auth_header[4200]; /* "Authorization: Bearer ..." or "" */
    atomic_int *cancel;
    cf_http_progress_fn progress;
    void *progress_ctx;
};

/* Where a response body goes. */
typedef enum { SINK_NONE, SINK_MEMORY, SINK_FILE } sink_kind;

typedef struct sink {
    sink_kind kind;
    cf_http_client *client;
    cf_buf *mem;
    size_t max_bytes;
    FILE *file;
    int64_t offset;      /* bytes already in the file: the Range start */
    bool started;        /* the first body byte of a 2xx response was seen */
    bool too_big;
    bool write_failed;
    bool range_mismatch; /* a 206 for another range: start over */
    char error_body[ERROR_BODY_MAX + 1];
    size_t error_len;
} sink;

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_code;
static void curl_init_once(void) { g_curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT); }

static bool cancelled(const cf_http_client *c) { return c->cancel && atomic_load(c->cancel); }

cf_status cf_http_origin(const char *url, char *out, size_t size, cf_error *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    cf_status s = CF_OK;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        s = cf_fail(err, CF_ERR_INVALID_ARG, "'%s' is not a valid http(s) URL", url);
    } else if (snprintf(out, size, "%s://%s:%s", scheme, host, port) >= (int)size) {
        s = cf_fail(err, CF_ERR_INVALID_ARG, "URL host too long: %s", url);
    } else {
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return s;
}

cf_status cf_http_escape(const char *s, char *out, size_t size, cf_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (k + (plain ? 1 : 3) >= size)
            return cf_fail(err, CF_ERR_INVALID_ARG, "'%s' is too long for a URL", s);
        if (plain) {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    out[k] = '\0';
    return CF_OK;
}

cf_status cf_http_client_new(const cf_hub_options *opt, const char *token, atomic_int *cancel,
                             cf_http_progress_fn progress, void *progress_ctx, cf_http_client **out, cf_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_code != CURLE_OK)
        return cf_fail(err, CF_ERR_IO, "libcurl failed to initialise: %s", curl_easy_strerror(g_curl_init_code));
    cf_http_client *c = calloc(1, sizeof *c);
    if (!c)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for an HTTP client");
    c->opt = *opt;
    c->cancel = cancel;
    c->progress = progress;
    c->progress_ctx = progress_ctx;
    cf_status s = cf_http_origin(opt->endpoint, c->endpoint_origin, sizeof c->endpoint_origin, err);
    if (s == CF_OK && token && *token) {
        if (strpbrk(token, "\r\n"))
            s = cf_fail(err, CF_ERR_INVALID_ARG, "the Hugging Face token holds a line break; check HF_TOKEN");
        else if (snprintf(c->auth_header, sizeof c->auth_header, "Authorization: Bearer %s", token) >=
                 (int)sizeof c->auth_header)
            s = cf_fail(err, CF_ERR_INVALID_ARG, "the Hugging Face token is too long (%zu bytes)", strlen(token));
    }
    if (s == CF_OK && !(c->curl = curl_easy_init()))
        s = cf_fail(err, CF_ERR_NOMEM, "libcurl could not create a handle");
    if (s != CF_OK) {
        cf_http_client_free(c);
        return s;
    }
    *out = c;
    return CF_OK;
}

void cf_http_client_free(cf_http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    memset(c->auth_header, 0, sizeof c->auth_header);
    free(c);
}

/* ---- one request ---- */

static long response_status(CURL *curl)
{
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static const char *header_value(CURL *curl, const char *name)
{
    struct curl_header *h = NULL;
    return curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK ? h->value : NULL;
}

/* The start of a 206's "Content-Range: bytes START-END/TOTAL", or -1. */
static int64_t content_range_start(CURL *curl)
{
    const char *v = header_value(curl, "Content-Range");
    long long start;
    if (!v || sscanf(v, "bytes %lld-", &start) != 1)
        return -1;
    return start;
}

/* Decide, at the first body byte of a 2xx response, whether the bytes continue the file. */
static bool start_file_body(sink *s, long status)
{
    s->started = true;
    if (status == 206 && content_range_start(s->client->curl) == s->offset)
        return true;
    if (status == 206) {
        s->range_mismatch = true;
        return false;
    }
    if (s->offset > 0) { /* a 200: the server ignored the range, so start over */
        fflush(s->file);
        if (ftruncate(fileno(s->file), 0) != 0) {
            s->write_failed = true;
            return false;
        }
        fseek(s->file, 0, SEEK_SET);
        if (s->client->progress)
            s->client->progress(s->client->progress_ctx, -s->offset);
        s->offset = 0;
    }
    return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    sink *s = userdata;
    size_t len = size * n;
    long status = response_status(s->client->curl);
    if (status < 200 || status >= 300) { /* keep the start of an error page for the message */
        size_t keep = len < ERROR_BODY_MAX - s->error_len ? len : ERROR_BODY_MAX - s->error_len;
        memcpy(s->error_body + s->error_len, data, keep);
        s->error_len += keep;
        s->error_body[s->error_len] = '\0';
        return len;
    }
    switch (s->kind) {
    case SINK_NONE:
        return len;
    case SINK_MEMORY:
        if (s->mem->len + len > s->max_bytes) {
            s->too_big = true;
            return 0;
        }
        return cf_buf_append(s->mem, data, len) ? len : 0;
    case SINK_FILE:
        if (!s->started && !start_file_body(s, status))
            return 0;
        if (fwrite(data, 1, len, s->file) != len) {
            s->write_failed = true;
            return 0;
        }
        s->offset += (int64_t)len;
        if (s->client->progress)
            s->client->progress(s->client->progress_ctx, (int64_t)len);
        return len;
    }
    return 0;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    return cancelled(userdata) ? 1 : 0;
}

static void copy_header(CURL *curl, const char *name, char *dst, size_t size)
{
    const char *v = header_value(curl, name);
    snprintf(dst, size, "%s", v ? v : "");
}

/* "W/\"abc\"" -> "abc" */
static void normalize_etag(char *etag)
{
    char *p = etag;
    if (p[0] == 'W' && p[1] == '/')
        p += 2;
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
    }
    memmove(etag, p, n);
    etag[n] = '\0';
}

static void read_meta(CURL *curl, cf_http_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    meta->status = response_status(curl);
    char *redirect = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
        snprintf(meta->location, sizeof meta->location, "%s", redirect);
    copy_header(curl, "X-Linked-Etag", meta->etag, sizeof meta->etag);
    if (!meta->etag[0])
        copy_header(curl, "ETag", meta->etag, sizeof meta->etag);
    normalize_etag(meta->etag);
    copy_header(curl, "X-Repo-Commit", meta->commit, sizeof meta->commit);
    copy_header(curl, "X-Error-Code", meta->error_code, sizeof meta->error_code);
    const char *size = header_value(curl, "X-Linked-Size");
    if (!size)
        size = header_value(curl, "Content-Length");
    meta->size = size ? strtoll(size, NULL, 10) : -1;
}

static bool same_origin(const char *url, const char *origin)
{
    char o[512];
    return cf_http_origin(url, o, sizeof o, NULL) == CF_OK && !strcmp(o, origin);
}

static CURLcode perform_once(cf_http_client *c, bool head, const char *url, sink *s, cf_http_meta *meta)
{
    CURL *curl = c->curl;
    curl_easy_reset(curl);
    struct curl_slist *headers = NULL;
    if (c->auth_header[0] && same_origin(url, c->endpoint_origin))
        headers = curl_slist_append(headers, c->auth_header);
    char range[64];
    if (s->kind == SINK_FILE && s->offset > 0) {
        snprintf(range, sizeof range, "Range: bytes=%lld-", (long long)s->offset);
        headers = curl_slist_append(headers, range);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "cformer/" CF_VERSION_STRING);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, c->opt.connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, c->opt.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    s->started = false;
    s->error_len = 0;
    s->error_body[0] = '\0';
    CURLcode cc = curl_easy_perform(curl);
    read_meta(curl, meta);
    curl_slist_free_all(headers);
    return cc;
}

/* Follow redirects from url; HEAD stops at a redirect to another origin (the CDN). */
static CURLcode follow(cf_http_client *c, bool head, const char *url, sink *s, cf_http_meta *meta, bool *loop)
{
    char current[4096];
    snprintf(current, sizeof current, "%s", url);
    *loop = false;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
        CURLcode cc = perform_once(c, head, current, s, meta);
        bool redirect = meta->status >= 300 && meta->status < 400 && meta->location[0];
        if (cc != CURLE_OK || !redirect)
            return cc;
        if (head && !same_origin(meta->location, c->endpoint_origin))
            return cc;
        snprintf(current, sizeof current, "%s", meta->location);
    }
    *loop = true;
    return CURLE_OK;
}

static bool transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

static bool transient_status(long status) { return status >= 500 || status == 429 || status == 408; }

/* Sleep base * 2^attempt (capped at 10 s), waking early when cancelled. */
static void backoff(const cf_http_client *c, int attempt)
{
    long ms = c->opt.retry_base_ms;
    for (int i = 0; i < attempt && ms < 10000; i++)
        ms *= 2;
    if (ms > 10000)
        ms = 10000;
    for (long slept = 0; slept < ms && !cancelled(c); slept += 20) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static cf_status request_error(const cf_http_client *c, const char *method, const char *url, CURLcode cc,
                               const sink *s, const cf_http_meta *meta, int attempts, cf_error *err)
{
    if (cancelled(c))
        return cf_fail(err, CF_ERR_IO, "%s %s: cancelled", method, url);
    if (s->too_big)
        return cf_fail(err, CF_ERR_FORMAT, "%s %s: response larger than %zu bytes", method, url, s->max_bytes);
    if (s->write_failed)
        return cf_fail(err, CF_ERR_IO, "%s %s: cannot write the download: %s", method, url, strerror(errno));
    const char *tries = attempts > 1 ? " (gave up after retries)" : "";
    if (cc != CURLE_OK)
        return cf_fail(err, CF_ERR_IO, "%s %s: %s%s", method, url, curl_easy_strerror(cc), tries);
    cf_status st = meta->status == 404 || meta->status == 401 || meta->status == 403 ? CF_ERR_NOT_FOUND : CF_ERR_IO;
    return cf_fail(err, st, "%s %s: HTTP %ld%s%s%s%s%s", method, url, meta->status, meta->error_code[0] ? " " : "",
                   meta->error_code, s->error_len ? ": " : "", s->error_body, tries);
}

/* One logical request: redirects, then retries with backoff on transient failures. */
static cf_status request(cf_http_client *c, bool head, const char *url, sink *s, cf_http_meta *meta, cf_error *err)
{
    const char *method = head ? "HEAD" : "GET";
    for (int attempt = 0;; attempt++) {
        if (s->kind == SINK_MEMORY)
            cf_buf_clear(s->mem);
        s->range_mismatch = false;
        bool loop = false;
        CURLcode cc = follow(c, head, url, s, meta, &loop);
        if (loop)
            return cf_fail(err, CF_ERR_IO, "%s %s: more than %d redirects", method, url, MAX_REDIRECTS);
        bool ok = cc == CURLE_OK && ((meta->status >= 200 && meta->status < 300) ||
                                     (head && meta->status >= 300 && meta->status < 400));
        if (ok)
            return CF_OK;
        bool again = !s->too_big && !s->write_failed && !cancelled(c) &&
                     (transient_curl(cc) || s->range_mismatch || (cc == CURLE_OK && transient_status(meta->status)) ||
                      (cc == CURLE_OK && meta->status == 416));
        if (!again || attempt >= c->opt.max_retries)
            return request_error(c, method, url, cc, s, meta, attempt + 1, err);
        if (s->kind == SINK_FILE && (s->range_mismatch || meta->status == 416)) { /* start the file over */
            if (ftruncate(fileno(s->file), 0) != 0)
                return cf_fail(err, CF_ERR_IO, "cannot truncate a partial download: %s", strerror(errno));
            if (c->progress)
                c->progress(c->progress_ctx, -s->offset);
            s->offset = 0;
        }
        cf_log_info("%s %s: %s; retrying (%d of %d)", method, url,
                    cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", attempt + 1, c->opt.max_retries);
        backoff(c, attempt);
    }
}

cf_status cf_http_get(cf_http_client *c, const char *url, size_t max_bytes, cf_buf *body, cf_http_meta *meta,
                      cf_error *err)
{
    sink s = {.kind = SINK_MEMORY, .client = c, .mem = body, .max_bytes = max_bytes};
    return request(c, false, url, &s, meta, err);
}

cf_status cf_http_head(cf_http_client *c, const char *url, cf_http_meta *meta, cf_error *err)
{
    sink s = {.kind = SINK_NONE, .client = c};
    return request(c, true, url, &s, meta, err);
}

cf_status cf_http_download(cf_http_client *c, const char *url, const char *path, cf_error *err)
{
    FILE *f = fopen(path, "ab");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long have = ftell(f);
    sink s = {.kind = SINK_FILE, .client = c, .file = f, .offset = have > 0 ? have : 0};
    if (s.offset > 0 && c->progress)
        c->progress(c->progress_ctx, s.offset);
    cf_http_meta meta;
    cf_status st = request(c, false, url, &s, &meta, err);
    if (fclose(f) != 0 && st == CF_OK)
        st = cf_fail(err, CF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return st;
}
