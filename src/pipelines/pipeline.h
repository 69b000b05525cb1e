/* The pipeline framework: a registry of tasks, each one file in src/pipelines/ that
 * turns Inference-API inputs + parameters into the Python pipeline's output JSON. */
#ifndef CF_PIPELINES_PIPELINE_H
#define CF_PIPELINES_PIPELINE_H

#include <cjson/cJSON.h>

#include "cformer.h"
#include "io/config.h"

typedef struct cf_task cf_task;

struct cf_pipeline {
    const cf_task *task;
    char task_name[64];      /* canonical name, e.g. "text-classification" */
    char model_dir[4096];    /* resolved local folder */
    cf_config config;        /* config.json */
    cJSON *options;          /* load options (may be NULL) */
    void *state;             /* the task's own: tokenizer, model, ... */
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
};

/* Every task file defines one `const cf_task cf_task_<name>` and adds it to the registry
 * in pipeline.c. Lookup accepts aliases and translation_xx_to_yy style names. */
const cf_task *cf_task_find(const char *name);

#endif
