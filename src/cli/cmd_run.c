/* cformer run: run a pipeline task once and print its JSON.
 *   cformer run TASK [-m MODEL] [options] INPUT...     inputs and parameters from flags
 *   cformer run TASK [-m MODEL] --json PAYLOAD|-       an Inference API body */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "io/hub.h"
#include "io/model_dir.h"
#include "pipelines/annotate.h"
#include "pipelines/pipeline.h"
#include "pipelines/vision_common.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer run TASK [-m MODEL] [options] INPUT...\n"
            "       cformer run TASK [-m MODEL] --json PAYLOAD|-\n"
            "\n"
            "Run a pipeline task (text-classification, sentiment-analysis, zero-shot-classification,\n"
            "token-classification, ner, question-answering, fill-mask, feature-extraction, ...) and print\n"
            "the Python pipeline's JSON. MODEL is a folder or a Hub id in the HF cache (default: the task's\n"
            "default model). Several INPUTs make a list; '-' reads one input from stdin.\n"
            "\n"
            "options:\n"
            "  -m, --model MODEL         model folder or Hub id\n"
            "  --json PAYLOAD            {\"inputs\": ..., \"parameters\": {...}}; '-' reads it from stdin\n"
            "  --question Q --context C  question-answering input\n"
            "  --labels a,b,c            zero-shot candidate_labels\n"
            "  --targets a,b             fill-mask targets\n"
            "  --top-k N                 top_k\n"
            "  --multi-label             zero-shot multi_label\n"
            "  --handle-impossible-answer\n"
            "  --param KEY=VALUE         any pipeline parameter (VALUE as JSON, else as a string)\n"
            "  --threads N               threads (default: CFORMER_THREADS or all cores)\n"
            "  --dtype f32|bf16|int8     weight type the layers run in (default f32)\n"
            "  --tokenizer PATH          tokenizer folder, tokenizer.json or llama2.c tokenizer.bin\n"
            "                            (MODEL may then be a llama2.c checkpoint .bin for text-generation)\n"
            "  --pull                    download MODEL from the Hub when it is not in the cache\n"
            "                            (also CFORMER_AUTO_PULL=1)\n"
            "  --output-dir DIR          write masks and depth maps as DIR/<task>-<n>.png and print their paths\n"
            "  --annotate OUT.png        draw the result on the input image (object-detection,\n"
            "                            image-segmentation, depth-estimation)\n"
            "  --some-name VALUE         any other long option is parameter some_name=VALUE\n"
            "\n"
            "exit codes: 0 ok, 1 error (model, files), 2 bad usage or payload\n");
}

typedef struct run_args {
    const char *task, *model, *json, *question, *context, *dtype;
    const char *tokenizer, *output_dir, *annotate;
    bool pull;
    int threads;
    cJSON *params;
    cJSON *inputs; /* array of positional inputs */
} run_args;

static char *read_stdin(void)
{
    cf_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (!cf_buf_append(&b, chunk, n)) {
            cf_buf_free(&b);
            return NULL;
        }
    if (!b.data)
        cf_buf_puts(&b, "");
    return cf_buf_steal(&b);
}

/* VALUE as JSON when it parses (numbers, true, null, lists), else as a string. */
static cJSON *param_value(const char *value)
{
    cJSON *v = cJSON_Parse(value);
    return v ? v : cJSON_CreateString(value);
}

static cJSON *comma_list(const char *s)
{
    cJSON *list = cJSON_CreateArray();
    for (const char *start = s;;) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        char *piece = strndup(start, len);
        cJSON_AddItemToArray(list, cJSON_CreateString(piece ? piece : ""));
        free(piece);
        if (!end)
            break;
        start = end + 1;
    }
    return list;
}

static void set_param(run_args *a, const char *key, cJSON *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(a->params, key);
    cJSON_AddItemToObject(a->params, key, value);
}

/* --some-option -> "some_option" */
static void option_to_key(const char *opt, char *key, size_t size)
{
    snprintf(key, size, "%s", opt + 2);
    for (char *c = key; *c; c++)
        if (*c == '-')
            *c = '_';
}

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "cformer run: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (see cformer run --help)\n");
    return CF_EXIT_USAGE;
}

static int parse_args(int argc, char **argv, run_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        bool has_value = next != NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(arg, "--pull")) {
            a->pull = true;
            continue;
        }
        if (!strcmp(arg, "--multi-label") || !strcmp(arg, "--handle-impossible-answer")) {
            char key[64];
            option_to_key(arg, key, sizeof key);
            set_param(a, key, cJSON_CreateTrue());
            continue;
        }
        if (arg[0] != '-' || !strcmp(arg, "-")) {
            cJSON_AddItemToArray(a->inputs, cJSON_CreateString(arg));
            continue;
        }
        if (!has_value)
            return usage_error("option %s needs a value", arg);
        i++;
        if (!strcmp(arg, "-m") || !strcmp(arg, "--model"))
            a->model = next;
        else if (!strcmp(arg, "--json"))
            a->json = next;
        else if (!strcmp(arg, "--question"))
            a->question = next;
        else if (!strcmp(arg, "--context"))
            a->context = next;
        else if (!strcmp(arg, "--threads"))
            a->threads = atoi(next);
        else if (!strcmp(arg, "--dtype"))
            a->dtype = next;
        else if (!strcmp(arg, "--tokenizer"))
            a->tokenizer = next;
        else if (!strcmp(arg, "--output-dir"))
            a->output_dir = next;
        else if (!strcmp(arg, "--annotate"))
            a->annotate = next;
        else if (!strcmp(arg, "--labels"))
            set_param(a, "candidate_labels", comma_list(next));
        else if (!strcmp(arg, "--targets"))
            set_param(a, "targets", comma_list(next));
        else if (!strcmp(arg, "--template"))
            set_param(a, "hypothesis_template", cJSON_CreateString(next));
        else if (!strcmp(arg, "--param")) {
            const char *eq = strchr(next, '=');
            if (!eq || eq == next)
                return usage_error("--param takes KEY=VALUE, got '%s'", next);
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(eq - next), next);
            set_param(a, key, param_value(eq + 1));
        } else if (!strncmp(arg, "--", 2) && arg[2]) {
            char key[128];
            option_to_key(arg, key, sizeof key);
            set_param(a, key, param_value(next));
        } else {
            return usage_error("unknown option %s", arg);
        }
    }
    return 0;
}

/* The Inference API body for the flag form. */
static int build_payload(run_args *a, char **payload)
{
    cJSON *body = cJSON_CreateObject();
    int n = cJSON_GetArraySize(a->inputs);
    if (a->question || a->context) {
        if (!a->question || !a->context || n > 0) {
            cJSON_Delete(body);
            return usage_error("%s", "question-answering takes --question Q --context C and no other input");
        }
        cJSON *qa = cJSON_AddObjectToObject(body, "inputs");
        cJSON_AddStringToObject(qa, "question", a->question);
        cJSON_AddStringToObject(qa, "context", a->context);
    } else if (n == 0) {
        cJSON_Delete(body);
        return usage_error("%s", "no input given (INPUT..., --question/--context or --json)");
    } else {
        cJSON *item;
        cJSON_ArrayForEach(item, a->inputs) if (!strcmp(item->valuestring, "-"))
        {
            char *text = read_stdin();
            cJSON_SetValuestring(item, text ? text : "");
            free(text);
        }
        cJSON_AddItemToObject(body, "inputs",
                              n == 1 ? cJSON_DetachItemFromArray(a->inputs, 0) : cJSON_Duplicate(a->inputs, true));
    }
    cJSON_AddItemToObject(body, "parameters", cJSON_Duplicate(a->params, true));
    *payload = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return 0;
}

static void print_piece(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

/* text-generation from flags: print the prompt, then the new text as it is generated. */
static int run_streaming(run_args *a, const char *prompt, const char *payload, const char *options)
{
    cf_error err = {0};
    cf_pipeline *p = NULL;
    cf_result *r = NULL;
    cf_status s = cf_pipeline_open(a->task, a->model, options, &p, &err);
    const cJSON *full = cJSON_GetObjectItemCaseSensitive(a->params, "return_full_text");
    if (s == CF_OK && !cJSON_IsFalse(full)) {
        fputs(prompt, stdout);
        fflush(stdout);
    }
    if (s == CF_OK)
        s = cf_pipeline_run_stream(p, payload, print_piece, NULL, &r, &err);
    cf_result_free(r);
    cf_pipeline_free(p);
    if (s != CF_OK) {
        fprintf(stderr, "\ncformer run: %s\n", err.message);
        return s == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
    }
    putchar('\n');
    return CF_EXIT_OK;
}

static bool streams(const run_args *a)
{
    const cf_task *t = cf_task_find(a->task);
    const cJSON *nrs = cJSON_GetObjectItemCaseSensitive(a->params, "num_return_sequences");
    return !a->json && t && !strcmp(t->name, "text-generation") && cJSON_GetArraySize(a->inputs) == 1 &&
           cJSON_IsString(cJSON_GetArrayItem(a->inputs, 0)) && strcmp(cJSON_GetArrayItem(a->inputs, 0)->valuestring, "-") &&
           (!nrs || (cJSON_IsNumber(nrs) && nrs->valuedouble == 1));
}

/* cf_pipeline_open's options: --threads, --dtype, --tokenizer. NULL (after saying why) on a bad
 * dtype; *json may be NULL when there are none. */
static bool load_options(const run_args *a, char **json)
{
    char base[96] = "";
    *json = NULL;
    if (!cf_cli_load_options(base, sizeof base, a->threads, a->dtype))
        return false;
    cJSON *o = base[0] ? cJSON_Parse(base) : cJSON_CreateObject();
    if (a->tokenizer)
        cJSON_AddStringToObject(o, "tokenizer", a->tokenizer);
    if (cJSON_GetArraySize(o) > 0)
        *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return true;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The model to open: a path as given; a Hub id (or the task's default id) through the cache,
 * downloaded first with --pull / CFORMER_AUTO_PULL=1. *model stays NULL for a task whose
 * default is found by the task itself (text-generation's bundled model). */
static int resolve_model(const run_args *a, char *dir, size_t size, const char **model)
{
    const cf_task *t = cf_task_find(a->task);
    *model = a->model;
    if (!t || (a->model && path_exists(a->model)) || (!a->model && t->default_model_dir))
        return CF_EXIT_OK;
    const char *id = a->model ? a->model : t->default_model;
    cf_error err = {0};
    cf_status s = cf_hub_ensure_model(id, a->pull, dir, size, &err);
    if (s != CF_OK) {
        fprintf(stderr, "cformer run: %s%s\n", err.message,
                s == CF_ERR_NOT_FOUND && !a->pull && cf_model_id_valid(id)
                    ? " (or run again with --pull to download it now)" : "");
        return s == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
    }
    *model = dir;
    return CF_EXIT_OK;
}

/* --annotate: the result drawn on the payload's one input image. */
static cf_status annotate_result(const run_args *a, const char *payload, const cJSON *result, cf_error *err)
{
    cJSON *body = cJSON_Parse(payload);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(body, "inputs");
    if (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) == 1) {
        inputs = inputs->child;
        result = cJSON_IsArray(result) && cJSON_GetArraySize(result) == 1 ? result->child : result;
    }
    cf_image in = {0}, out = {0};
    cf_status s = cJSON_IsArray(inputs) ? cf_fail(err, CF_ERR_INVALID_ARG, "--annotate draws one image; %d were given",
                                                  cJSON_GetArraySize(inputs))
                                        : cf_vision_load_input(inputs, &in, err);
    if (s == CF_OK)
        s = cf_annotate(a->task, &in, result, &out, err);
    if (s == CF_OK)
        s = cf_image_write_png(a->annotate, &out, err);
    cf_image_free(&in);
    cf_image_free(&out);
    cJSON_Delete(body);
    return s;
}

typedef struct image_writer {
    const char *dir, *task;
    int count;
} image_writer;

/* Every base64 PNG under a "mask" or "depth" key -> DIR/<task>-<n>.png, replaced by that path. */
static cf_status write_images(image_writer *w, cJSON *node, cf_error *err)
{
    for (cJSON *c = node ? node->child : NULL; c; c = c->next) {
        bool image = c->string && (!strcmp(c->string, "mask") || !strcmp(c->string, "depth")) && cJSON_IsString(c);
        if (!image) {
            CF_TRY(write_images(w, c, err));
            continue;
        }
        uint8_t *png = NULL;
        size_t size = 0;
        CF_TRY(cf_base64_decode(c->valuestring, &png, &size, err));
        char path[4200];
        snprintf(path, sizeof path, "%s/%s-%d.png", w->dir, w->task, w->count++);
        FILE *f = fopen(path, "wb");
        bool ok = f && fwrite(png, 1, size, f) == size;
        ok = (f && fclose(f) == 0) && ok;
        free(png);
        if (!ok)
            return cf_fail(err, CF_ERR_IO, "%s: cannot write (%s)", path, strerror(errno));
        cJSON_SetValuestring(c, path);
    }
    return CF_OK;
}

static cf_status save_images(const run_args *a, cJSON *result, cf_error *err)
{
    if (mkdir(a->output_dir, 0777) != 0 && errno != EEXIST)
        return cf_fail(err, CF_ERR_IO, "--output-dir %s: cannot create (%s)", a->output_dir, strerror(errno));
    const cf_task *t = cf_task_find(a->task);
    image_writer w = {.dir = a->output_dir, .task = t ? t->name : a->task};
    cJSON wrapper = {.child = result}; /* visit the top-level node's keys too */
    return write_images(&w, &wrapper, err);
}

/* The result JSON after --annotate / --output-dir, printed. */
static int print_result(const run_args *a, const char *payload, const char *json)
{
    if (!a->annotate && !a->output_dir) {
        puts(json);
        return CF_EXIT_OK;
    }
    cJSON *result = cJSON_Parse(json);
    cf_error err = {0};
    cf_status s = result ? CF_OK : cf_fail(&err, CF_ERR_INTERNAL, "the pipeline printed invalid JSON");
    if (s == CF_OK && a->annotate)
        s = annotate_result(a, payload, result, &err);
    if (s == CF_OK && a->output_dir)
        s = save_images(a, result, &err);
    char *text = s == CF_OK ? cJSON_PrintUnformatted(result) : NULL;
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(result);
    if (s != CF_OK) {
        fprintf(stderr, "cformer run: %s\n", err.message);
        return s == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
    }
    return CF_EXIT_OK;
}

static int read_payload(run_args *a, char **payload)
{
    if (!a->json)
        return build_payload(a, payload);
    if (cJSON_GetArraySize(a->inputs) > 0 || cJSON_GetArraySize(a->params) > 0 || a->question || a->context)
        return usage_error("%s", "--json takes the whole payload: give inputs and parameters inside it");
    *payload = !strcmp(a->json, "-") ? read_stdin() : strdup(a->json);
    if (!*payload) {
        fprintf(stderr, "cformer run: cannot read the payload\n");
        return CF_EXIT_ERROR;
    }
    return CF_EXIT_OK;
}

static int run(run_args *a)
{
    if (a->annotate && !cf_annotate_supports(a->task))
        return usage_error("--annotate draws object-detection, image-segmentation and depth-estimation results, "
                           "not %s", a->task);
    char *payload = NULL, *options = NULL, dir[4096];
    const char *model = NULL;
    /* the flags form moves the inputs into the payload: keep the prompt to echo first */
    char *prompt = streams(a) && !a->annotate && !a->output_dir
                       ? strdup(cJSON_GetArrayItem(a->inputs, 0)->valuestring) : NULL;
    int rc = read_payload(a, &payload);
    if (rc == CF_EXIT_OK && !load_options(a, &options))
        rc = CF_EXIT_USAGE;
    if (rc == CF_EXIT_OK)
        rc = resolve_model(a, dir, sizeof dir, &model);
    if (rc != CF_EXIT_OK) {
        free(prompt);
        free(payload);
        free(options);
        return rc;
    }
    a->model = model;
    if (prompt) {
        rc = run_streaming(a, prompt, payload, options);
    } else {
        cf_error err = {0};
        char *out = NULL;
        cf_status s = cf_pipeline_run_once(a->task, a->model, options, payload, &out, &err);
        if (s != CF_OK) {
            fprintf(stderr, "cformer run: %s\n", err.message);
            rc = s == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
        } else {
            rc = print_result(a, payload, out);
        }
        free(out);
    }
    free(prompt);
    free(payload);
    free(options);
    return rc;
}

int cf_cmd_run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return CF_EXIT_OK;
    }
    run_args a = {.task = argv[1], .params = cJSON_CreateObject(), .inputs = cJSON_CreateArray()};
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc == 0)
        rc = run(&a);
    else if (rc < 0)
        rc = CF_EXIT_OK;
    cJSON_Delete(a.params);
    cJSON_Delete(a.inputs);
    return rc;
}
