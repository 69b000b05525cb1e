#include "io/config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/json_util.h"

#define CONFIG_MAX_BYTES ((size_t)64 * 1024 * 1024)

static void set_path(cf_config *cfg, const char *path)
{
    snprintf(cfg->path, sizeof cfg->path, "%s", path ? path : "<config>");
}

cf_status cf_config_parse(cf_config *cfg, const char *json, size_t len, const char *name, cf_error *err)
{
    cfg->root = NULL;
    set_path(cfg, name);
    cJSON *root;
    CF_TRY(cf_json_parse(json, len, cfg->path, &root, err));
    if (!cJSON_IsObject(root)) {
        cf_status s = cf_fail(err, CF_ERR_FORMAT, "%s: top level is %s, expected a JSON object", cfg->path,
                              cf_json_type_name(root));
        cJSON_Delete(root);
        return s;
    }
    cfg->root = root;
    return CF_OK;
}

cf_status cf_config_load(cf_config *cfg, const char *path, cf_error *err)
{
    cfg->root = NULL;
    set_path(cfg, path);
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, CONFIG_MAX_BYTES, &text, &len, err));
    cf_status s = cf_config_parse(cfg, text, len, path, err);
    free(text);
    return s;
}

cf_status cf_config_load_optional(cf_config *cfg, const char *dir, const char *name, cf_error *err)
{
    char path[4096];
    cfg->root = NULL;
    CF_TRY(cf_path_join(path, sizeof path, dir, name, err));
    if (cf_file_exists(path))
        return cf_config_load(cfg, path, err);
    set_path(cfg, path);
    cfg->root = cJSON_CreateObject();
    if (!cfg->root)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    return CF_OK;
}

void cf_config_free(cf_config *cfg)
{
    if (!cfg)
        return;
    cJSON_Delete(cfg->root);
    cfg->root = NULL;
}

/* Child `len` bytes of `key` names: an object member, or an array element by index. */
static const cJSON *child_n(const cJSON *node, const char *key, size_t len)
{
    if (cJSON_IsObject(node)) {
        for (const cJSON *c = node->child; c; c = c->next)
            if (c->string && strlen(c->string) == len && !memcmp(c->string, key, len))
                return c;
        return NULL;
    }
    if (cJSON_IsArray(node) && len > 0 && len < 10) {
        int index = 0;
        for (size_t i = 0; i < len; i++) {
            if (key[i] < '0' || key[i] > '9')
                return NULL;
            index = index * 10 + (key[i] - '0');
        }
        return cJSON_GetArrayItem(node, index);
    }
    return NULL;
}

const cJSON *cf_json_path(const cJSON *node, const char *key)
{
    if (!node || !key)
        return NULL;
    /* A key that itself contains dots wins over the dotted reading. */
    const cJSON *whole = child_n(node, key, strlen(key));
    if (whole)
        return whole;
    for (const char *dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        const cJSON *c = child_n(node, key, (size_t)(dot - key));
        if (c) {
            const cJSON *found = cf_json_path(c, dot + 1);
            if (found)
                return found;
        }
    }
    return NULL;
}

const cJSON *cf_config_get(const cf_config *cfg, const char *key) { return cf_json_path(cfg->root, key); }

bool cf_config_has(const cf_config *cfg, const char *key)
{
    const cJSON *v = cf_config_get(cfg, key);
    return v && !cJSON_IsNull(v);
}

/* A JSON number that is an integer representable in int64 (up to 2^63 excluded). */
static bool json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return false;
    *out = (int64_t)d;
    return true;
}

int64_t cf_config_int(const cf_config *cfg, const char *key, int64_t dflt)
{
    int64_t v;
    return json_int(cf_config_get(cfg, key), &v) ? v : dflt;
}

double cf_config_float(const cf_config *cfg, const char *key, double dflt)
{
    const cJSON *v = cf_config_get(cfg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

bool cf_config_bool(const cf_config *cfg, const char *key, bool dflt)
{
    const cJSON *v = cf_config_get(cfg, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

const char *cf_config_str(const cf_config *cfg, const char *key, const char *dflt)
{
    const cJSON *v = cf_config_get(cfg, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static cf_status missing(const cf_config *cfg, const char *key, cf_error *err)
{
    return cf_fail(err, CF_ERR_NOT_FOUND, "%s: missing required key '%s'", cfg->path, key);
}

static cf_status mistyped(const cf_config *cfg, const char *key, const cJSON *v, const char *want, cf_error *err)
{
    char shown[64];
    return cf_fail(err, CF_ERR_FORMAT, "%s: key '%s' is %s (%s), expected %s", cfg->path, key, cf_json_type_name(v),
                   cf_json_compact(v, shown, sizeof shown), want);
}

cf_status cf_config_require_int(const cf_config *cfg, const char *key, int64_t *out, cf_error *err)
{
    const cJSON *v = cf_config_get(cfg, key);
    if (!v || cJSON_IsNull(v))
        return missing(cfg, key, err);
    if (!json_int(v, out))
        return mistyped(cfg, key, v, "an integer", err);
    return CF_OK;
}

cf_status cf_config_int_in(const cf_config *cfg, const char *key, int64_t lo, int64_t hi, int64_t *out,
                           cf_error *err)
{
    CF_TRY(cf_config_require_int(cfg, key, out, err));
    if (*out < lo || *out > hi)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" is %lld, expected %lld..%lld", cfg->path, key, (long long)*out,
                       (long long)lo, (long long)hi);
    return CF_OK;
}

cf_status cf_config_int_in_or(const cf_config *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi,
                              int64_t *out, cf_error *err)
{
    *out = dflt;
    return cf_config_has(cfg, key) ? cf_config_int_in(cfg, key, lo, hi, out, err) : CF_OK;
}

cf_status cf_config_require_float(const cf_config *cfg, const char *key, double *out, cf_error *err)
{
    const cJSON *v = cf_config_get(cfg, key);
    if (!v || cJSON_IsNull(v))
        return missing(cfg, key, err);
    if (!cJSON_IsNumber(v))
        return mistyped(cfg, key, v, "a number", err);
    *out = v->valuedouble;
    return CF_OK;
}

cf_status cf_config_float_checked(const cf_config *cfg, const char *key, double dflt, double *out, cf_error *err)
{
    *out = dflt;
    return cf_config_has(cfg, key) ? cf_config_require_float(cfg, key, out, err) : CF_OK;
}

cf_status cf_config_require_str(const cf_config *cfg, const char *key, const char **out, cf_error *err)
{
    const cJSON *v = cf_config_get(cfg, key);
    if (!v || cJSON_IsNull(v))
        return missing(cfg, key, err);
    if (!cJSON_IsString(v))
        return mistyped(cfg, key, v, "a string", err);
    *out = v->valuestring;
    return CF_OK;
}

cf_status cf_config_int_array(const cf_config *cfg, const char *key, int64_t **out, size_t *n, cf_error *err)
{
    *out = NULL;
    *n = 0;
    const cJSON *v = cf_config_get(cfg, key);
    if (!v || cJSON_IsNull(v))
        return missing(cfg, key, err);
    int64_t one;
    if (json_int(v, &one)) {
        if (!(*out = malloc(sizeof **out)))
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", cfg->path);
        (*out)[0] = one;
        *n = 1;
        return CF_OK;
    }
    if (!cJSON_IsArray(v))
        return mistyped(cfg, key, v, "an integer or an array of integers", err);
    size_t count = (size_t)cJSON_GetArraySize(v);
    int64_t *a = malloc((count ? count : 1) * sizeof *a);
    if (!a)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", cfg->path);
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!json_int(e, &a[i])) {
            free(a);
            char shown[64];
            return cf_fail(err, CF_ERR_FORMAT, "%s: key '%s'[%zu] is %s (%s), expected an integer", cfg->path, key, i,
                           cf_json_type_name(e), cf_json_compact(e, shown, sizeof shown));
        }
    }
    *out = a;
    *n = count;
    return CF_OK;
}

const char *cf_config_label(const cf_config *cfg, int64_t id, char *buf, size_t size)
{
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)id);
    const cJSON *labels = cf_config_get(cfg, "id2label");
    const cJSON *v = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, key) : NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    snprintf(buf, size, "LABEL_%lld", (long long)id);
    return buf;
}

int64_t cf_config_num_labels(const cf_config *cfg)
{
    /* As transformers' PretrainedConfig: id2label decides; else num_labels; else 2. */
    const cJSON *labels = cf_config_get(cfg, "id2label");
    if (cJSON_IsObject(labels) && labels->child)
        return cJSON_GetArraySize(labels);
    int64_t n = cf_config_int(cfg, "num_labels", 2);
    return n >= 0 ? n : 2;
}
