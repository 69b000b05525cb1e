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
    cf_error why = {0};
    if (cf_base64_decode(comma ? comma + 1 : s, &bytes, &size, &why) != CF_OK)
        return cf_fail(err, why.status, "image input is neither an existing file nor base64 (%s)", why.message);
    cf_status st = cf_image_decode(bytes, size, "input image", NULL, img, err);
    free(bytes);
    return st;
}

typedef struct vision_call {
    cf_pipeline *p;
    const cJSON *params;
    cf_vision_one_fn fn;
} vision_call;

static cf_status run_one_image(void *ctx, const cJSON *input, cJSON **out, cf_error *err)
{
    const vision_call *call = ctx;
    cf_image img = {0};
    cf_status s = cf_vision_load_input(input, &img, err);
    if (s == CF_OK)
        s = call->fn(call->p, &img, call->params, out, err);
    cf_image_free(&img);
    return s;
}

cf_status cf_vision_run_inputs(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cf_vision_one_fn fn,
                               cJSON **out, cf_error *err)
{
    vision_call call = {p, params, fn};
    return cf_map_inputs(inputs, p->task_name, run_one_image, &call, out, err);
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

cJSON *cf_json_round6(float x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.6f", (double)x);
    return cJSON_CreateNumber(strtod(buf, NULL));
}
