/* The pipeline framework: task registry, model resolution, payload parsing, results. */
#include "pipelines/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "io/model_dir.h"
#include "core/threadpool.h"
#include "models/llama.h"
#include "nn/linear.h"

/* ================================================================ task registry ====
 * One line per task file: X(name) refers to `const cf_task cf_task_<name>` defined in
 * src/pipelines/<name>.c. Add new tasks here. */
#define CF_TASK_LIST(X)       \
    X(text_classification)    \
    X(zero_shot)              \
    X(token_classification)   \
    X(question_answering)     \
    X(fill_mask)              \
    X(feature_extraction)     \
    X(text_generation)        \
    X(summarization)          \
    X(translation)            \
    X(text2text_generation)   \
    X(image_classification)   \
    X(object_detection)       \
    X(image_segmentation)     \
    X(depth_estimation)       \
    X(automatic_speech_recognition)  \
    X(audio_classification)
/* ============================================================ end of task registry ==== */

#define CF_DECLARE_TASK(name) extern const cf_task cf_task_##name;
CF_TASK_LIST(CF_DECLARE_TASK)
#define CF_TASK_ENTRY(name) &cf_task_##name,
static const cf_task *const k_tasks[] = {CF_TASK_LIST(CF_TASK_ENTRY)};
#define N_TASKS (sizeof k_tasks / sizeof k_tasks[0])

/* "translation_en_to_fr" -> "translation", as transformers.pipeline accepts. */
static bool is_translation_pair(const char *name)
{
    const char *to = strstr(name, "_to_");
    return !strncmp(name, "translation_", 12) && to && to > name + 12 && to[4] != '\0';
}

const cf_task *cf_task_find(const char *name)
{
    if (!name)
        return NULL;
    if (is_translation_pair(name))
        name = "translation";
    for (size_t i = 0; i < N_TASKS; i++) {
        if (!strcmp(k_tasks[i]->name, name))
            return k_tasks[i];
        for (const char *const *a = k_tasks[i]->aliases; a && *a; a++)
            if (!strcmp(*a, name))
                return k_tasks[i];
    }
    return NULL;
}

const cf_task *cf_task_at(size_t i) { return i < N_TASKS ? k_tasks[i] : NULL; }

static cf_status unknown_task(const char *name, cf_error *err)
{
    char list[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < N_TASKS; i++) {
        len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0, "%s%s", i ? ", " : "",
                                k_tasks[i]->name);
        if (len >= sizeof list)
            break;
    }
    return cf_fail(err, CF_ERR_INVALID_ARG, "unknown task '%s' (known tasks: %s)", name ? name : "(null)", list);
}

/* ================================================================ open / free ==== */

static cf_status apply_options(cf_pipeline *p, const char *options_json, cf_error *err)
{
    if (!options_json || !*options_json)
        return CF_OK;
    p->options = cJSON_Parse(options_json);
    if (!cJSON_IsObject(p->options))
        return cf_fail(err, CF_ERR_INVALID_ARG, "load options must be a JSON object, got: %.100s", options_json);
    const cJSON *item;
    cJSON_ArrayForEach(item, p->options)
    {
        if (!strcmp(item->string, "dtype")) {
            cf_wtype t;
            if (!cJSON_IsString(item) || !cf_wtype_parse(item->valuestring, &t))
                return cf_fail(err, CF_ERR_INVALID_ARG, "load option dtype must be \"f32\", \"bf16\" or \"int8\"");
        } else if (!strcmp(item->string, "threads")) {
            int64_t n;
            if (!cf_json_is_int(item, &n) || n < 0 || n > 1024)
                return cf_fail(err, CF_ERR_INVALID_ARG, "load option threads must be an integer in [0, 1024]");
            cf_threads_set((int)n);
        } else if (!strcmp(item->string, "tokenizer")) {
            if (!cJSON_IsString(item))
                return cf_fail(err, CF_ERR_INVALID_ARG, "load option tokenizer must be a path (folder, tokenizer.json or llama2.c tokenizer file)");
        } else {
            return cf_fail(err, CF_ERR_INVALID_ARG, "unknown load option '%s' (known: dtype, threads, tokenizer)",
                           item->string);
        }
    }
    return CF_OK;
}

static cf_status open_pipeline(cf_pipeline *p, const char *task, const char *model, const char *options_json,
                               cf_error *err)
{
    p->task = cf_task_find(task);
    if (!p->task)
        return unknown_task(task, err);
    snprintf(p->task_name, sizeof p->task_name, "%s", p->task->name);
    snprintf(p->requested_task, sizeof p->requested_task, "%s", task);
    CF_TRY(apply_options(p, options_json, err));
    if (model && cf_llama2c_sniff(model)) {
        /* a llama2.c checkpoint file: its header stands in for config.json */
        snprintf(p->model_dir, sizeof p->model_dir, "%s", model);
        CF_TRY(cf_llama2c_config(model, &p->config, err));
    } else {
        if (!model && p->task->default_model_dir)
            CF_TRY(p->task->default_model_dir(p->model_dir, sizeof p->model_dir, err));
        else
            CF_TRY(cf_model_resolve(model ? model : p->task->default_model, p->model_dir, sizeof p->model_dir, err));
        char path[CF_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/config.json", p->model_dir);
        CF_TRY(cf_config_load(&p->config, path, err));
    }
    /* Every layer the task loads on this thread follows the dtype option. */
    cf_load_options opts = cf_linear_load_options();
    opts.dtype = CF_WTYPE_F32;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(p->options, "dtype");
    if (cJSON_IsString(dtype))
        cf_wtype_parse(dtype->valuestring, &opts.dtype);
    cf_load_options saved = cf_linear_set_load_options(opts);
    cf_status s = p->task->open(p, err);
    cf_linear_set_load_options(saved);
    return s;
}

cf_status cf_pipeline_open(const char *task, const char *model, const char *options_json, cf_pipeline **out,
                           cf_error *err)
{
    *out = NULL;
    cf_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate a pipeline");
    pthread_mutex_init(&p->lock, NULL);
    cf_status s = open_pipeline(p, task, model, options_json, err);
    if (s != CF_OK) {
        cf_pipeline_free(p);
        return s;
    }
    *out = p;
    return CF_OK;
}

void cf_pipeline_free(cf_pipeline *p)
{
    if (!p)
        return;
    if (p->task && p->task->close && p->state) /* a task that failed to open left no state */
        p->task->close(p);
    cf_config_free(&p->config);
    cJSON_Delete(p->options);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *cf_pipeline_task(const cf_pipeline *p) { return p->task_name; }
const char *cf_pipeline_model_dir(const cf_pipeline *p) { return p->model_dir; }

/* ================================================================ running ==== */

struct cf_result {
    char *json;
};

static cf_status check_utf8(const char *s, size_t len, cf_error *err)
{
    const utf8proc_uint8_t *b = (const utf8proc_uint8_t *)s;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(b + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "payload is not valid UTF-8 (bad byte 0x%02x at offset %zu)",
                           b[i], i);
        i += (size_t)n;
    }
    return CF_OK;
}

/* {"inputs": ..., "parameters": {...}, "options": {...}} -> inputs, params (may be NULL). */
static cf_status parse_payload(const char *payload, cJSON **root, const cJSON **inputs, const cJSON **params,
                               cf_error *err)
{
    if (!payload)
        return cf_fail(err, CF_ERR_INVALID_ARG, "no payload given");
    size_t len = strlen(payload);
    CF_TRY(check_utf8(payload, len, err));
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(payload, &end, true);
    if (!*root) {
        size_t at = end ? (size_t)(end - payload) : 0;
        return cf_fail(err, CF_ERR_INVALID_ARG, "payload is not valid JSON (error near offset %zu: '%.20s')", at,
                       end ? end : "");
    }
    if (!cJSON_IsObject(*root))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "payload must be a JSON object {\"inputs\": ..., \"parameters\": {...}}");
    const cJSON *item;
    cJSON_ArrayForEach(item, *root)
    {
        if (strcmp(item->string, "inputs") && strcmp(item->string, "parameters") && strcmp(item->string, "options"))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "unknown payload key '%s' (expected \"inputs\", \"parameters\", \"options\")",
                           item->string);
    }
    *inputs = cJSON_GetObjectItemCaseSensitive(*root, "inputs");
    if (!*inputs || cJSON_IsNull(*inputs))
        return cf_fail(err, CF_ERR_INVALID_ARG, "payload has no \"inputs\"");
    *params = cJSON_GetObjectItemCaseSensitive(*root, "parameters");
    if (*params && cJSON_IsNull(*params))
        *params = NULL;
    if (*params && !cJSON_IsObject(*params))
        return cf_fail(err, CF_ERR_INVALID_ARG, "payload \"parameters\" must be a JSON object");
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(*root, "options");
    if (options && !cJSON_IsObject(options) && !cJSON_IsNull(options))
        return cf_fail(err, CF_ERR_INVALID_ARG, "payload \"options\" must be a JSON object");
    return CF_OK;
}

cf_status cf_pipeline_run(cf_pipeline *p, const char *payload_json, cf_result **out, cf_error *err)
{
    *out = NULL;
    cJSON *root = NULL, *result = NULL;
    const cJSON *inputs = NULL, *params = NULL;
    cf_status s = parse_payload(payload_json, &root, &inputs, &params, err);
    if (s == CF_OK) {
        pthread_mutex_lock(&p->lock);
        s = p->task->run(p, inputs, params, &result, err);
        pthread_mutex_unlock(&p->lock);
    }
    if (s == CF_OK) {
        cf_result *r = calloc(1, sizeof *r);
        if (r)
            r->json = cJSON_PrintUnformatted(result);
        if (!r || !r->json) {
            free(r);
            s = cf_fail(err, CF_ERR_NOMEM, "cannot print the result JSON");
        } else {
            *out = r;
        }
    }
    cJSON_Delete(result);
    cJSON_Delete(root);
    return s;
}

const char *cf_result_json(const cf_result *r) { return r ? r->json : NULL; }

void cf_result_free(cf_result *r)
{
    if (!r)
        return;
    cJSON_free(r->json);
    free(r);
}

cf_status cf_pipeline_run_once(const char *task, const char *model, const char *options_json, const char *payload,
                               char **out_json, cf_error *err)
{
    *out_json = NULL;
    cf_pipeline *p = NULL;
    CF_TRY(cf_pipeline_open(task, model, options_json, &p, err));
    cf_result *r = NULL;
    cf_status s = cf_pipeline_run(p, payload, &r, err);
    if (s == CF_OK) {
        *out_json = strdup(cf_result_json(r));
        if (!*out_json)
            s = cf_fail(err, CF_ERR_NOMEM, "cannot copy the result");
    }
    cf_result_free(r);
    cf_pipeline_free(p);
    return s;
}

/* ================================================================ inputs ==== */

cf_status cf_map_inputs(const cJSON *inputs, const char *task, cf_input_fn fn, void *ctx, cJSON **out, cf_error *err)
{
    *out = NULL;
    if (!cJSON_IsArray(inputs))
        return fn(ctx, inputs, out, err);
    if (!inputs->child)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: inputs is an empty list", task);
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate the output list", task);
    const cJSON *item;
    cJSON_ArrayForEach(item, inputs)
    {
        cJSON *one = NULL;
        cf_status s = fn(ctx, item, &one, err);
        if (s != CF_OK) {
            cJSON_Delete(list);
            return s;
        }
        cJSON_AddItemToArray(list, one);
    }
    *out = list;
    return CF_OK;
}

typedef struct text_map {
    const char *task;
    cf_text_fn fn;
    void *ctx;
} text_map;

static cf_status map_one_text(void *ctx, const cJSON *input, cJSON **out, cf_error *err)
{
    const text_map *m = ctx;
    if (!cJSON_IsString(input))
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: inputs must be a string or a non-empty list of strings",
                       m->task);
    return m->fn(m->ctx, input->valuestring, out, err);
}

cf_status cf_map_text_inputs(const cJSON *inputs, const char *task, cf_text_fn fn, void *ctx, cJSON **out,
                             cf_error *err)
{
    text_map m = {task, fn, ctx};
    return cf_map_inputs(inputs, task, map_one_text, &m, out, err);
}

/* ================================================================ parameters ==== */

cf_status cf_params_check(const cJSON *params, const char *task, const char *const *allowed, cf_error *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, params)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = !strcmp(item->string, allowed[i]);
        if (!known) {
            char list[512] = "";
            size_t len = 0;
            for (size_t i = 0; allowed[i] && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", allowed[i]);
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: unknown parameter '%s' (accepted: %s)", task, item->string,
                           list);
        }
    }
    return CF_OK;
}

const cJSON *cf_param(const cJSON *params, const char *key)
{
    return params ? cJSON_GetObjectItemCaseSensitive(params, key) : NULL;
}

bool cf_json_is_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return false;
    *out = (int64_t)d;
    return true;
}

cf_status cf_param_int(const cJSON *params, const char *key, int64_t dflt, int64_t min, int64_t *out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cf_json_is_int(v, out))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be an integer", key);
    if (*out < min)
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be >= %lld (got %lld)", key, (long long)min,
                       (long long)*out);
    return CF_OK;
}

cf_status cf_param_bool(const cJSON *params, const char *key, bool dflt, bool *out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be true or false", key);
    *out = cJSON_IsTrue(v);
    return CF_OK;
}

cf_status cf_param_float(const cJSON *params, const char *key, double dflt, double *out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be a finite number", key);
    *out = v->valuedouble;
    return CF_OK;
}

cf_status cf_param_str(const cJSON *params, const char *key, const char *dflt, const char **out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be a string", key);
    *out = v->valuestring;
    return CF_OK;
}

cJSON *cf_json_score(float x) { return cJSON_CreateNumber((double)x); }
