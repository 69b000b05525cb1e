/* The pipeline framework: a registry of tasks, each one file in src/pipelines/ that
 * turns Inference-API inputs + parameters into the Python pipeline's output JSON. */
#ifndef CF_PIPELINES_PIPELINE_H
#define CF_PIPELINES_PIPELINE_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cformer.h"
#include "io/config.h"

typedef struct cf_task cf_task;

struct cf_pipeline {
    const cf_task *task;
    char task_name[64];      /* canonical name, e.g. "text-classification" */
    char requested_task[64]; /* as the caller spelled it, e.g. "translation_en_to_fr" */
    char model_dir[4096];    /* resolved local folder */
    cf_config config;        /* config.json */
    cJSON *options;          /* load options (may be NULL) */
    void *state;             /* the task's own: tokenizer, model, ... */
    pthread_mutex_t lock;    /* serialises runs: the model's arena is shared */
};

struct cf_task {
    const char *name;             /* canonical task name */
    const char *const *aliases;   /* NULL-terminated, may be NULL ("sentiment-analysis", "ner") */
    const char *default_model;    /* the Python pipeline's default Hub id */
    /* Load the model/tokenizer for p->model_dir into p->state. */
    cf_status (*open)(cf_pipeline *p, cf_error *err);
    /* inputs: the payload's "inputs"; params: "parameters" (an object, may be NULL).
     * *out: the output JSON (caller frees). Unknown parameters or wrong types are
     * CF_ERR_INVALID_ARG naming the key. Must be thread-safe for one p. */
    cf_status (*run)(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err);
    void (*close)(cf_pipeline *p);
    /* Optional: find the default model when it is more than a Hub id (may be NULL). */
    cf_status (*default_model_dir)(char *out, size_t size, cf_error *err);
};

/* Every task file defines one `const cf_task cf_task_<name>` and adds it to the registry
 * in pipeline.c. Lookup accepts aliases and translation_xx_to_yy style names. */
const cf_task *cf_task_find(const char *name);
/* The i-th registered task, in registry order; NULL when i is past the end. */
const cf_task *cf_task_at(size_t i);

/* Open `task` on `model` (folder or Hub id; NULL = the task's default), run one payload and
 * return the output JSON (caller frees). This is exactly what `cformer run --json` does. */
cf_status cf_pipeline_run_once(const char *task, const char *model, const char *options_json, const char *payload,
                               char **out_json, cf_error *err);

/* ---- inputs: one or a list, as the Python pipelines take them ---- */

/* Run on one input (any JSON); *out gets its result. */
typedef cf_status (*cf_input_fn)(void *ctx, const cJSON *input, cJSON **out, cf_error *err);
/* inputs is one input (then *out is fn's result) or a non-empty list (then *out is the list of
 * fn's results, in order). Errors name `task`. */
cf_status cf_map_inputs(const cJSON *inputs, const char *task, cf_input_fn fn, void *ctx, cJSON **out, cf_error *err);
/* Run on one text input. */
typedef cf_status (*cf_text_fn)(void *ctx, const char *text, cJSON **out, cf_error *err);
/* cf_map_inputs over a string or a non-empty list of strings. */
cf_status cf_map_text_inputs(const cJSON *inputs, const char *task, cf_text_fn fn, void *ctx, cJSON **out,
                             cf_error *err);

/* ---- parameters: the payload's "parameters" object, as the Python keyword arguments ---- */

/* Fail naming the first key of params that is not in `allowed` (NULL-terminated). */
cf_status cf_params_check(const cJSON *params, const char *task, const char *const *allowed, cf_error *err);
/* The value of key, or NULL when absent (a JSON null is returned as a cJSON null). */
const cJSON *cf_param(const cJSON *params, const char *key);
/* Typed getters: absent or null keeps `dflt`; a wrong type or a value below `min` is an error
 * naming the key. */
cf_status cf_param_int(const cJSON *params, const char *key, int64_t dflt, int64_t min, int64_t *out, cf_error *err);
cf_status cf_param_bool(const cJSON *params, const char *key, bool dflt, bool *out, cf_error *err);
cf_status cf_param_float(const cJSON *params, const char *key, double dflt, double *out, cf_error *err);
cf_status cf_param_str(const cJSON *params, const char *key, const char *dflt, const char **out, cf_error *err);
/* Is v an integer-valued JSON number (not a bool)? */
bool cf_json_is_int(const cJSON *v, int64_t *out);

/* ---- outputs ---- */

/* A JSON number for a float32 score, printed as Python prints float(np.float32(x)). */
cJSON *cf_json_score(float x);

#endif
