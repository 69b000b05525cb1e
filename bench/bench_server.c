/* Load test of the HTTP server on loopback: N concurrent keep-alive clients POST Inference API
 * bodies for S seconds; prints requests/s, p50/p90/p99 latency, errors and RSS over time.
 *
 *   bench_server [--model DIR] [--task TASK] [--clients 64] [--seconds 30] [--url URL]
 *                [--max-batch 8] [--max-wait-ms 0]
 *
 * Without --url the server runs in this process on 127.0.0.1 (port chosen by the OS) over the
 * model folder (default: the first text-classification fixture under $CFORMER_FIXTURES). */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bench_util.h"
#include "core/buf.h"
#include "server/server.h"

typedef struct client {
    pthread_t thread;
    const char *url;
    const char *body;
    double deadline;
    double *lat;
    size_t n, cap;
    long errors;
    char first_error[256];
} client;

static size_t discard(char *d, size_t s, size_t n, void *u) { return s * n; }

static void *client_main(void *arg)
{
    client *c = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    while (bench_now() < c->deadline) {
        double t0 = bench_now();
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK || status != 200) {
            if (!c->errors++)
                snprintf(c->first_error, sizeof c->first_error, "%s, HTTP %ld", curl_easy_strerror(cc), status);
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->lat = realloc(c->lat, c->cap * sizeof *c->lat);
        }
        c->lat[c->n++] = bench_now() - t0;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

/* kB from /proc/self/status ("VmRSS", "VmHWM"). */
static long proc_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Case folders whose config.json names a sequence classifier, sorted; *n gets the count. */
static char **find_classifiers(size_t *n)
{
    const char *root = getenv("CFORMER_FIXTURES");
    if (!root || !*root)
        root = "../shared/fixtures";
    char **list = NULL;
    *n = 0;
    DIR *d = opendir(root);
    struct dirent *fam;
    while (d && (fam = readdir(d))) {
        char famdir[4096];
        snprintf(famdir, sizeof famdir, "%s/%s", root, fam->d_name);
        DIR *f = fam->d_name[0] == '.' ? NULL : opendir(famdir);
        struct dirent *cs;
        while (f && (cs = readdir(f))) {
            char dir[8192], cfg[8300];
            snprintf(dir, sizeof dir, "%s/%s", famdir, cs->d_name);
            snprintf(cfg, sizeof cfg, "%s/config.json", dir);
            char *text = NULL;
            size_t len = 0;
            if (cs->d_name[0] == '.' || cf_read_file(cfg, 1 << 20, &text, &len, NULL) != CF_OK)
                continue;
            bool match = strstr(text, "ForSequenceClassification\"") != NULL;
            free(text);
            if (match) {
                list = realloc(list, (*n + 1) * sizeof *list);
                list[(*n)++] = strdup(dir);
            }
        }
        if (f)
            closedir(f);
    }
    if (d)
        closedir(d);
    if (*n)
        qsort(list, *n, sizeof *list, cmp_str);
    return list;
}

/* The given model, else the first classifier fixture the pipeline opens. */
static cf_status open_model(const char *model, const char *task, cf_pipeline **p, cf_error *err)
{
    if (model)
        return cf_pipeline_open(task, model, NULL, p, err);
    size_t n = 0;
    char **dirs = find_classifiers(&n);
    cf_status s = cf_fail(err, CF_ERR_NOT_FOUND, "no --model and no sequence-classification fixture found");
    for (size_t i = 0; i < n; i++) {
        if (s != CF_OK && (s = cf_pipeline_open(task, dirs[i], NULL, p, err)) == CF_OK)
            fprintf(stderr, "bench_server: model %s\n", dirs[i]);
        free(dirs[i]);
    }
    free(dirs);
    return s;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *task = "text-classification", *url_arg = NULL;
    int n_clients = 64, seconds = 30, max_batch = 0, max_wait_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--task"))
            task = argv[i + 1];
        else if (!strcmp(argv[i], "--clients"))
            n_clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--url"))
            url_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--max-batch"))
            max_batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-wait-ms"))
            max_wait_ms = atoi(argv[i + 1]);
    }
    if (n_clients < 1 || n_clients > 1024 || seconds < 1) {
        fprintf(stderr, "bench_server: --clients 1..1024, --seconds >= 1\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cf_error err = {0};
    cf_pipeline *p = NULL;
    cf_server *s = NULL;
    char url[512];
    if (url_arg) {
        snprintf(url, sizeof url, "%s", url_arg);
    } else {
        cf_server_config cfg = cf_server_config_default();
        cfg.port = 0;
        cfg.queue_capacity = 2 * n_clients;
        cfg.max_batch = max_batch;
        cfg.max_wait_ms = max_wait_ms;
        if (open_model(model, task, &p, &err) != CF_OK || cf_server_new(&cfg, &s, &err) != CF_OK ||
            cf_server_add_pipeline(s, "bench", p, &err) != CF_OK || cf_server_start(s, &err) != CF_OK) {
            fprintf(stderr, "bench_server: %s\n", err.message);
            return 1;
        }
        snprintf(url, sizeof url, "http://127.0.0.1:%d/models/bench", cf_server_port(s));
    }
    const char *body = "{\"inputs\": \"I've been waiting for a HuggingFace course my whole life.\"}";
    client *clients = calloc((size_t)n_clients, sizeof *clients);
    double start = bench_now();
    long rss_start = proc_kb("VmRSS");
    for (int i = 0; i < n_clients; i++) {
        clients[i] = (client){.url = url, .body = body, .deadline = start + seconds};
        pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);
    }
    printf("%-8s %10s\n", "second", "RSS (MB)");
    for (int t = 1; t <= seconds; t++) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        if (t == 1 || t % 5 == 0 || t == seconds)
            printf("%-8d %10.1f\n", t, proc_kb("VmRSS") / 1024.0);
    }
    size_t total = 0;
    long errors = 0;
    for (int i = 0; i < n_clients; i++) {
        pthread_join(clients[i].thread, NULL);
        total += clients[i].n;
        errors += clients[i].errors;
    }
    double elapsed = bench_now() - start;
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n_clients; i++) {
        memcpy(all + k, clients[i].lat, clients[i].n * sizeof *all);
        k += clients[i].n;
    }
    qsort(all, total, sizeof *all, bench_cmp_double);
#define PCT(q) (total ? all[(size_t)((q) * (double)(total - 1))] * 1000.0 : 0.0)
    printf("\n%-10s %-8s %-8s %10s %9s %9s %9s %7s %12s %12s\n", "task", "clients", "seconds", "req/s", "p50 ms",
           "p90 ms", "p99 ms", "errors", "RSS start MB", "peak RSS MB");
    printf("%-10.10s %-8d %-8.1f %10.1f %9.2f %9.2f %9.2f %7ld %12.1f %12.1f\n", task, n_clients, elapsed,
           (double)total / elapsed, PCT(0.50), PCT(0.90), PCT(0.99), errors, rss_start / 1024.0,
           proc_kb("VmHWM") / 1024.0);
    for (int i = 0; i < n_clients; i++)
        if (clients[i].errors) {
            printf("first error (client %d): %s\n", i, clients[i].first_error);
            break;
        }
    for (int i = 0; i < n_clients; i++)
        free(clients[i].lat);
    free(clients);
    free(all);
    cf_server_free(s);
    cf_pipeline_free(p);
    curl_global_cleanup();
    return errors ? 1 : 0;
}
