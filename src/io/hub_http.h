/* HTTP for the Hub client (libcurl): requests with retries and backoff, redirects followed
 * by hand so that the token goes only to the endpoint's origin, and resumable downloads. */
#ifndef CF_IO_HUB_HTTP_H
#define CF_IO_HUB_HTTP_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "io/hub.h"

/* What the Hub says about a file in the headers of its resolve response. */
typedef struct cf_http_meta {
    long status;
    char location[4096];   /* Location of a redirect, absolute */
    char etag[256];        /* X-Linked-Etag (LFS: the sha256), else ETag; quotes and W/ removed */
    char commit[128];      /* X-Repo-Commit */
    char error_code[64];   /* X-Error-Code: RepoNotFound, GatedRepo, EntryNotFound, ... */
    int64_t size;          /* X-Linked-Size, else Content-Length; -1 when unknown */
} cf_http_meta;

typedef struct cf_http_client cf_http_client;

/* Called with the bytes each download adds to (or, negative, removes from) its file. */
typedef void (*cf_http_progress_fn)(void *ctx, int64_t delta);

/* A client for one thread. `cancel` (may be NULL) aborts transfers when it becomes non-zero. */
cf_status cf_http_client_new(const cf_hub_options *opt, const char *token, atomic_int *cancel,
                             cf_http_progress_fn progress, void *progress_ctx, cf_http_client **out, cf_error *err);
void cf_http_client_free(cf_http_client *c);

/* GET into memory (at most max_bytes), following redirects. A non-2xx final status is an error
 * naming the URL and the status (meta still holds the response's headers). */
cf_status cf_http_get(cf_http_client *c, const char *url, size_t max_bytes, cf_buf *body, cf_http_meta *meta,
                      cf_error *err);

/* HEAD, following only redirects within the same origin (a renamed repo); the metadata comes
 * from the last response, which may be a redirect to a CDN (meta->location). */
cf_status cf_http_head(cf_http_client *c, const char *url, cf_http_meta *meta, cf_error *err);

/* GET url into `path`, appending to what it already holds (Range: bytes=N-) and starting over
 * when the server ignores the range. Retries resume where the last attempt stopped. */
cf_status cf_http_download(cf_http_client *c, const char *url, const char *path, cf_error *err);

/* "scheme://host:port" of url, lowercased, default port filled in. */
cf_status cf_http_origin(const char *url, char *out, size_t size, cf_error *err);

/* Percent-encode one path segment (a revision like "refs/pr/1" becomes "refs%2Fpr%2F1"). */
cf_status cf_http_escape(const char *s, char *out, size_t size, cf_error *err);

#endif
