/* cformer serve: load pipelines and answer HTTP requests until SIGTERM/SIGINT. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "io/hub.h"
#include "io/model_dir.h"
#include "server/server.h"

#define MAX_SERVED 32

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer serve -m MODEL [-m MODEL]... [--task TASK]... [options]\n"
            "\n"
            "Serve pipelines over HTTP on 127.0.0.1 (unless --host says otherwise):\n"
            "  POST /  or  /models/{id}        {\"inputs\": ..., \"parameters\": {...}} (raw bytes for audio/images;\n"
            "                                  \"stream\": true streams text generation as Server-Sent Events)\n"
            "  POST /v2/models/{id}/infer      KServe v2; GET /v2/models/{id}, /v2/health/ready, /v2/health/live\n"
            "  GET /health, /metrics, /models, and / (a playground page for a browser)\n"
            "MODEL is a folder or a Hub id in the HF cache; {id} is the Hub id, or a folder's name.\n"
            "Without --task the task comes from config.json's architectures. One --task applies to every\n"
            "model; several pair with the -m's in order.\n"
            "\n"
            "options:\n"
            "  --host ADDR            bind address (default 127.0.0.1)\n"
            "  --port N               default 8080 (0 = any free port)\n"
            "  --workers N            threads running pipelines (default 2)\n"
            "  --queue N              requests that may wait for a worker before 429 (default 64)\n"
            "  --max-body BYTES       largest request body (default 16 MiB)\n"
            "  --max-input-chars N    longest text input (default 100000)\n"
            "  --max-new-tokens N     cap for text generation (default 1024)\n"
            "  --timeout MS           longest wait in the queue before 503 (default 60000)\n"
            "  --max-batch N          queued requests of one text model (same parameters) run as one call\n"
            "                         of up to N inputs (default 8; 1 = off)\n"
            "  --max-wait-ms MS       how long such a call waits for more requests (default 0: only those\n"
            "                         already queued)\n"
            "  --threads N            threads per pipeline (default: CFORMER_THREADS or all cores)\n"
            "  --dtype f32|bf16|int8  weight type the layers run in (default f32)\n"
            "  --pull                 download Hub models missing from the cache\n"
            "\n"
            "SIGTERM or Ctrl-C stops accepting connections and finishes requests in flight.\n");
}

/* The task from config.json's "architectures" (BertForSequenceClassification -> text-classification). */
static const char *task_from_config(const char *dir)
{
    static const struct {
        const char *suffix, *task;
    } k_heads[] = {
        {"ForSequenceClassification", "text-classification"},
        {"ForTokenClassification", "token-classification"},
        {"ForQuestionAnswering", "question-answering"},
        {"ForMaskedLM", "fill-mask"},
        {"ForCausalLM", "text-generation"},
        {"LMHeadModel", "text-generation"},
        {"ForImageClassification", "image-classification"},
        {"ForObjectDetection", "object-detection"},
        {"ForDepthEstimation", "depth-estimation"},
        {"ForAudioClassification", "audio-classification"},
        {"ForSequenceClassification", "audio-classification"},
        {"ForCTC", "automatic-speech-recognition"},
        {"Model", "feature-extraction"},
    };
    char path[CF_PATH_MAX + 16], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (cf_read_file(path, 1u << 22, &text, &len, NULL) != CF_OK)
        return NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "architectures"), 0);
    const char *task = NULL;
    if (cJSON_IsString(arch)) {
        size_t n = strlen(arch->valuestring);
        for (size_t i = 0; i < sizeof k_heads / sizeof k_heads[0] && !task; i++) {
            size_t m = strlen(k_heads[i].suffix);
            if (n >= m && !strcmp(arch->valuestring + n - m, k_heads[i].suffix))
                task = k_heads[i].task;
        }
    }
    cJSON_Delete(root);
    return task;
}

/* The name clients use: a Hub id as given, else the folder's last part. */
static void served_name(const char *model, char *out, size_t size)
{
    if (cf_model_id_valid(model)) {
        snprintf(out, size, "%s", model);
        return;
    }
    char copy[CF_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", model);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/')
        copy[--n] = '\0';
    const char *slash = strrchr(copy, '/');
    snprintf(out, size, "%s", slash ? slash + 1 : copy);
}

typedef struct serve_args {
    const char *models[MAX_SERVED], *tasks[MAX_SERVED];
    int n_models, n_tasks, threads;
    const char *dtype;
    bool pull;
    cf_server_config cfg;
} serve_args;

static int parse(int argc, char **argv, serve_args *a)
{
    a->cfg = cf_server_config_default();
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(opt, "--pull")) {
            a->pull = true;
            continue;
        }
        if (!val) {
            fprintf(stderr, "cformer serve: %s needs a value (see cformer serve --help)\n", opt);
            return CF_EXIT_USAGE;
        }
        i++;
        if ((!strcmp(opt, "-m") || !strcmp(opt, "--model")) && a->n_models < MAX_SERVED)
            a->models[a->n_models++] = val;
        else if (!strcmp(opt, "--task") && a->n_tasks < MAX_SERVED)
            a->tasks[a->n_tasks++] = val;
        else if (!strcmp(opt, "--host"))
            a->cfg.host = val;
        else if (!strcmp(opt, "--port"))
            a->cfg.port = atoi(val);
        else if (!strcmp(opt, "--workers"))
            a->cfg.workers = atoi(val);
        else if (!strcmp(opt, "--queue"))
            a->cfg.queue_capacity = atoi(val);
        else if (!strcmp(opt, "--max-body"))
            a->cfg.max_body_bytes = strtoull(val, NULL, 10);
        else if (!strcmp(opt, "--max-input-chars"))
            a->cfg.max_input_chars = atoi(val);
        else if (!strcmp(opt, "--max-new-tokens"))
            a->cfg.max_new_tokens = atoi(val);
        else if (!strcmp(opt, "--timeout"))
            a->cfg.request_timeout_ms = atoi(val);
        else if (!strcmp(opt, "--max-batch"))
            a->cfg.max_batch = atoi(val);
        else if (!strcmp(opt, "--max-wait-ms"))
            a->cfg.max_wait_ms = atoi(val);
        else if (!strcmp(opt, "--threads"))
            a->threads = atoi(val);
        else if (!strcmp(opt, "--dtype"))
            a->dtype = val;
        else {
            fprintf(stderr, "cformer serve: unknown option %s (see cformer serve --help)\n", opt);
            return CF_EXIT_USAGE;
        }
    }
    if (a->n_models == 0) {
        fprintf(stderr, "cformer serve: give at least one -m MODEL (see cformer serve --help)\n");
        return CF_EXIT_USAGE;
    }
    if (a->n_tasks > 1 && a->n_tasks != a->n_models) {
        fprintf(stderr, "cformer serve: %d --task for %d -m: give one, or one per model\n", a->n_tasks, a->n_models);
        return CF_EXIT_USAGE;
    }
    return 0;
}

static int open_models(const serve_args *a, cf_server *s, cf_pipeline **pipes)
{
    char options[96] = "";
    if (!cf_cli_load_options(options, sizeof options, a->threads, a->dtype))
        return CF_EXIT_USAGE;
    for (int i = 0; i < a->n_models; i++) {
        cf_error err = {0};
        char dir[CF_PATH_MAX], name[256];
        if (cf_hub_ensure_model(a->models[i], a->pull, dir, sizeof dir, &err) != CF_OK) {
            fprintf(stderr, "cformer serve: %s\n", err.message);
            return CF_EXIT_ERROR;
        }
        const char *task = a->n_tasks ? a->tasks[a->n_tasks == 1 ? 0 : i] : task_from_config(dir);
        if (!task) {
            fprintf(stderr, "cformer serve: cannot tell the task of %s from its config.json; pass --task\n",
                    a->models[i]);
            return CF_EXIT_USAGE;
        }
        served_name(a->models[i], name, sizeof name);
        if (cf_pipeline_open(task, dir, options[0] ? options : NULL, &pipes[i], &err) != CF_OK ||
            cf_server_add_pipeline(s, name, pipes[i], &err) != CF_OK) {
            fprintf(stderr, "cformer serve: %s: %s\n", a->models[i], err.message);
            return CF_EXIT_ERROR;
        }
        fprintf(stderr, "cformer serve: %s (%s) from %s\n", name, task, dir);
    }
    return CF_EXIT_OK;
}

int cf_cmd_serve(int argc, char **argv)
{
    serve_args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? CF_EXIT_OK : rc;
    /* Block the stop signals in every thread; the main thread waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    cf_error err = {0};
    cf_server *s = NULL;
    cf_pipeline *pipes[MAX_SERVED] = {0};
    if (cf_server_new(&a.cfg, &s, &err) != CF_OK) {
        fprintf(stderr, "cformer serve: %s\n", err.message);
        return CF_EXIT_USAGE;
    }
    rc = open_models(&a, s, pipes);
    if (rc == CF_EXIT_OK && cf_server_start(s, &err) != CF_OK) {
        fprintf(stderr, "cformer serve: %s\n", err.message);
        rc = CF_EXIT_ERROR;
    }
    if (rc == CF_EXIT_OK) {
        fprintf(stderr, "cformer serve: listening on http://%s:%d (Ctrl-C to stop)\n", a.cfg.host, cf_server_port(s));
        printf("%d\n", cf_server_port(s));
        fflush(stdout);
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "cformer serve: %s, finishing requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        cf_server_stop(s, 30000);
    }
    cf_server_free(s);
    for (int i = 0; i < a.n_models; i++)
        cf_pipeline_free(pipes[i]);
    return rc;
}
