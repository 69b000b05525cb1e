#include "pipelines/vision_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

cf_status cf_vision_processor_open(const cf_pipeline *p, cf_image_processor *proc, cf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/preprocessor_config.json", p->model_dir);
    cf_config cfg = {0};
    CF_TRY(cf_config_load(&cfg, path, err));
    cf_status s = cf_image_processor_init(proc, &cfg, err);
    cf_config_free(&cfg);
    return s;
}

static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cf_base64_encode(const uint8_t *data, size_t size)
{
    char *out = malloc((size + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < size; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < size ? (unsigned)data[i + 1] << 8 : 0) |
                     (i + 2 < size ? data[i + 2] : 0);
        out[o++] = k_b64[v >> 18];
        out[o++] = k_b64[v >> 12 & 63];
        out[o++] = i + 1 < size ? k_b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < size ? k_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(k_b64, c) : NULL;
    return p ? (int)(p - k_b64) : c == '-' ? 62 : c == '_' ? 63 : -1;
}

cf_status cf_base64_decode(const char *s, uint8_t **out, size_t *size, cf_error *err)
{
    size_t len = strlen(s), n = 0;
    uint8_t *buf = malloc(len / 4 * 3 + 4);
    if (!buf)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate %zu bytes for base64 input", len);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == '=')
            break;
        int v = b64_value(c);
        if (v < 0) {
            free(buf);
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "image input is neither an existing file nor base64 (bad character '%c' at %zu)", c, i);
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out = buf;
    *size = n;
    return CF_OK;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

cf_status cf_vision_load_input(const cJSON *input, cf_image *img, cf_error *err)
{
    if (!cJSON_IsString(input) || !input->valuestring[0])
        return cf_fail(err, CF_ERR_INVALID_ARG, "image input must be a file path or base64 image bytes (a string)");
    const char *s = input->valuestring;
    if (is_file(s))
        return cf_image_load(s, NULL, img, err);
    if (strlen(s) < 4096 && (strchr(s, '/') || strchr(s, '.')) && !strstr(s, "base64,"))
        return cf_fail(err, CF_ERR_NOT_FOUND, "image file '%s' does not exist", s);
    const char *comma = !strncmp(s, "data:", 5) ? strchr(s, ',') : NULL;
    uint8_t *bytes = NULL;
    size_t size = 0;
    CF_TRY(cf_base64_decode(comma ? comma + 1 : s, &bytes, &size, err));
    cf_status st = cf_image_decode(bytes, size, "input image", NULL, img, err);
    free(bytes);
    return st;
}

cf_status cf_vision_run_inputs(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cf_vision_one_fn fn,
                               cJSON **out, cf_error *err)
{
    *out = NULL;
    bool many = cJSON_IsArray(inputs);
    if (many && cJSON_GetArraySize(inputs) == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "inputs is an empty list of images");
    cJSON *all = many ? cJSON_CreateArray() : NULL;
    const cJSON *item = many ? inputs->child : inputs;
    cf_status s = CF_OK;
    for (; item && s == CF_OK; item = many ? item->next : NULL) {
        cf_image img = {0};
        cJSON *one = NULL;
        s = cf_vision_load_input(item, &img, err);
        if (s == CF_OK)
            s = fn(p, &img, params, &one, err);
        cf_image_free(&img);
        if (s == CF_OK && many)
            cJSON_AddItemToArray(all, one);
        else if (s == CF_OK)
            *out = one;
    }
    if (s != CF_OK) {
        cJSON_Delete(all);
        cJSON_Delete(*out);
        *out = NULL;
        return s;
    }
    if (many)
        *out = all;
    return CF_OK;
}

cf_status cf_vision_preprocess(const cf_image_processor *proc, const cf_image *img, cf_pixel_values *pv,
                               cf_error *err)
{
    const cf_image *one[1] = {img};
    return cf_image_processor_run(proc, one, 1, pv, err);
}

cf_status cf_vision_png_json(const cf_image *img, cJSON **out, cf_error *err)
{
    uint8_t *png = NULL;
    size_t size = 0;
    CF_TRY(cf_image_encode_png(img, &png, &size, err));
    char *b64 = cf_base64_encode(png, size);
    free(png);
    if (!b64)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate the base64 of a %zu-byte PNG", size);
    *out = cJSON_CreateString(b64);
    free(b64);
    return *out ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "cannot allocate a JSON string");
}

const char *cf_vision_label(const cf_pipeline *p, int64_t id, char *buf, size_t size)
{
    return cf_config_label(&p->config, id, buf, size);
}

cf_status cf_param_float(const cJSON *params, const char *key, double dflt, double *out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsNumber(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be a number", key);
    *out = v->valuedouble;
    return CF_OK;
}

cJSON *cf_json_round6(float x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", (double)x);
    return cJSON_CreateNumber(strtod(buf, NULL));
}
