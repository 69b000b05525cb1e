/* config.json (and other JSON configs) with typed accessors. Keys may be dotted paths
 * ("task_specific_params.summarization.max_length"). Getters with a default never fail;
 * cf_config_require_* report a missing or mistyped key by name. */
#ifndef CF_IO_CONFIG_H
#define CF_IO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cJSON cJSON;

typedef struct cf_config {
    cJSON *root;
    char path[512]; /* where it was read from, for messages */
} cf_config;

cf_status cf_config_load(cf_config *cfg, const char *path, cf_error *err);
cf_status cf_config_parse(cf_config *cfg, const char *json, size_t len, const char *name, cf_error *err);
/* Load dir/name if it exists; an absent file gives an empty config and CF_OK. */
cf_status cf_config_load_optional(cf_config *cfg, const char *dir, const char *name, cf_error *err);
void cf_config_free(cf_config *cfg);

const cJSON *cf_config_get(const cf_config *cfg, const char *key); /* NULL if absent */
bool cf_config_has(const cf_config *cfg, const char *key);          /* present and not null */
int64_t cf_config_int(const cf_config *cfg, const char *key, int64_t dflt);
double cf_config_float(const cf_config *cfg, const char *key, double dflt);
bool cf_config_bool(const cf_config *cfg, const char *key, bool dflt);
const char *cf_config_str(const cf_config *cfg, const char *key, const char *dflt);

cf_status cf_config_require_int(const cf_config *cfg, const char *key, int64_t *out, cf_error *err);
cf_status cf_config_require_float(const cf_config *cfg, const char *key, double *out, cf_error *err);
/* key as a number; absent or null gives dflt; present with another type is an error naming the key. */
cf_status cf_config_float_checked(const cf_config *cfg, const char *key, double dflt, double *out, cf_error *err);
cf_status cf_config_require_str(const cf_config *cfg, const char *key, const char **out, cf_error *err);
/* key as an integer in lo..hi; missing, mistyped or out of range is an error naming the key. */
cf_status cf_config_int_in(const cf_config *cfg, const char *key, int64_t lo, int64_t hi, int64_t *out,
                           cf_error *err);
/* The same for an optional key: absent or null gives dflt (which need not be in range). */
cf_status cf_config_int_in_or(const cf_config *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi,
                              int64_t *out, cf_error *err);
/* Integer array (or a single int, as eos_token_id may be); *out malloc'ed. */
cf_status cf_config_int_array(const cf_config *cfg, const char *key, int64_t **out, size_t *n, cf_error *err);

/* id2label: label for class i ("LABEL_i" when absent, as transformers does); number of labels. */
const char *cf_config_label(const cf_config *cfg, int64_t id, char *buf, size_t size);
int64_t cf_config_num_labels(const cf_config *cfg);

/* Lookup of a key path inside any cJSON node (same dotted syntax). */
const cJSON *cf_json_path(const cJSON *node, const char *key);

#endif
