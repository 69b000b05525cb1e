/* Vision models (ViT, ConvNeXT, DETR, GLPN) against the reference tensors of every fixture case:
 * each model runs on the stored pixel_values (and pixel_mask) and every intermediate tensor it
 * reports under a name the expected.safetensors holds is compared (feature maps are transposed
 * to the reference's channels-first layout). Each case must compare its final outputs.
 * Tolerance: |a - b| <= 1e-4 + 1e-4 * |b| (fp32 reference; NOTE.md: 1- vs 2-thread diffs <= 1e-5). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture_case.h"
#include "common/testutil.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/detr.h"
#include "models/vision.h"
#include "nn/conv_maps.h"

static const double k_atol = 1e-4, k_rtol = 1e-4;

typedef struct check_ctx {
    cf_test_tensor_check check;
    char seen[64][64];
    size_t n_seen;
} check_ctx;

/* Compares and remembers the names it found stored. */
static void compare_floats(check_ctx *c, const char *name, const float *got, size_t n)
{
    if (cf_test_check_values(&c->check, name, got, n) && c->n_seen < 64)
        snprintf(c->seen[c->n_seen++], 64, "%s", name);
}

static void on_tensor(void *ctx, const cf_vision_tensor *t)
{
    check_ctx *c = ctx;
    size_t n = (size_t)(t->n * t->rows * t->cols);
    if (!t->is_map) {
        compare_floats(c, t->name, t->data, n);
        return;
    }
    float *nchw = malloc(n * sizeof(float));
    cf_nhwc_to_nchw(t->data, t->n, t->rows, t->cols, nchw);
    compare_floats(c, t->name, nchw, n);
    free(nchw);
}

static bool was_compared(const check_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_seen; i++)
        if (!strcmp(c->seen[i], name))
            return true;
    return false;
}

/* Every float tensor of the group (other than the inputs and post-processing results) must have
 * been compared: a model that silently skips an output fails. */
static void expect_all_compared(const check_ctx *c, const char *const *skip_prefixes)
{
    size_t plen = strlen(c->check.prefix);
    for (size_t i = 0; i < cf_st_count(c->check.expected); i++) {
        const char *name = cf_st_name(c->check.expected, i);
        if (strncmp(name, c->check.prefix, plen) || cf_st_at(c->check.expected, i)->dtype != CF_DTYPE_F32)
            continue;
        const char *rest = name + plen;
        if (!*c->check.prefix && strchr(rest, '.') && !strncmp(rest, "batch.", 6))
            continue;
        bool skipped = false;
        for (const char *const *s = skip_prefixes; *s && !skipped; s++)
            skipped = !strncmp(rest, *s, strlen(*s));
        if (!skipped)
            cr_expect(was_compared(c, rest), "%s: reference tensor %s was not produced by the model", c->check.case_dir,
                      name);
    }
}

static const float *f32_input(const cf_safetensors *st, const char *prefix, const char *name, const cf_tensor **t)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    *t = cf_st_find(st, full);
    cr_assert(*t, "expected.safetensors lacks %s", full);
    cr_assert_eq((*t)->dtype, CF_DTYPE_F32, "%s must be F32", full);
    cr_assert_eq((*t)->ndim, 4, "%s must be [n, 3, h, w]", full);
    return (*t)->data;
}

static void open_case(const char *dir, cf_config *cfg, cf_safetensors **expected)
{
    char path[4096];
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(cf_config_load(cfg, path, &err), CF_OK, "%s", err.message);
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    cr_assert_eq(cf_st_open(path, expected, &err), CF_OK, "%s", err.message);
}

/* ---------------------------------------------------------------- classifiers ---- */

static void run_classifier_case(const char *dir)
{
    cf_config cfg = {0};
    cf_safetensors *expected = NULL;
    open_case(dir, &cfg, &expected);
    cf_error err = {0};
    cf_image_classifier *m = NULL;
    cr_assert_eq(cf_image_classifier_load(dir, &cfg, &m, &err), CF_OK, "%s: %s", dir, err.message);
    const cf_tensor *pv;
    const float *pixels = f32_input(expected, "", "pixel_values", &pv);
    int64_t n = pv->shape[0], labels = cf_image_classifier_num_labels(m);
    float *logits = malloc((size_t)(n * labels) * sizeof(float));
    check_ctx c = {.check = {.case_dir = dir, .prefix = "", .expected = expected, .atol = k_atol, .rtol = k_rtol}};
    cf_vision_tap tap = {.fn = on_tensor, .ctx = &c};
    cr_assert_eq(cf_image_classifier_forward(m, pixels, n, pv->shape[2], pv->shape[3], &tap, logits, &err), CF_OK,
                 "%s: %s", dir, err.message);
    static const char *const skip[] = {"pixel_values", NULL};
    expect_all_compared(&c, skip);
    cr_expect(was_compared(&c, "logits"), "%s: logits not compared", dir);
    cr_expect_eq(c.check.failed, 0, "%s: %zu of %zu tensors differ", dir, c.check.failed, c.check.compared);
    free(logits);
    cf_image_classifier_free(m);
    cf_st_close(expected);
    cf_config_free(&cfg);
}

static void run_family(const char *family, void (*run)(const char *dir))
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "expected.safetensors", &dirs);
    cr_assert_gt(n, 0, "no %s fixture cases under %s", family, cf_test_fixtures());
    for (size_t i = 0; i < n; i++)
        run(dirs[i]);
    cf_test_free_list(dirs, n);
}

/* ---------------------------------------------------------------- depth ---- */

static void run_glpn_case(const char *dir)
{
    cf_config cfg = {0};
    cf_safetensors *expected = NULL;
    open_case(dir, &cfg, &expected);
    cf_error err = {0};
    cf_glpn *m = NULL;
    cr_assert_eq(cf_glpn_load(dir, &cfg, &m, &err), CF_OK, "%s: %s", dir, err.message);
    const cf_tensor *pv;
    const float *pixels = f32_input(expected, "", "pixel_values", &pv);
    int64_t n = pv->shape[0], h = pv->shape[2], w = pv->shape[3];
    float *depth = malloc((size_t)(n * h * w) * sizeof(float));
    check_ctx c = {.check = {.case_dir = dir, .prefix = "", .expected = expected, .atol = k_atol, .rtol = k_rtol}};
    cf_vision_tap tap = {.fn = on_tensor, .ctx = &c};
    cr_assert_eq(cf_glpn_forward(m, pixels, n, h, w, &tap, depth, &err), CF_OK, "%s: %s", dir, err.message);
    static const char *const skip[] = {"pixel_values", "pipeline.", NULL};
    expect_all_compared(&c, skip);
    cr_expect(was_compared(&c, "predicted_depth"), "%s: predicted_depth not compared", dir);
    cr_expect_eq(c.check.failed, 0, "%s: %zu of %zu tensors differ", dir, c.check.failed, c.check.compared);
    float odd[3 * 40 * 40] = {0};
    cr_expect_neq(cf_glpn_forward(m, odd, 1, 40, 40, NULL, depth, &err), CF_OK, "40x40 is not a multiple of 32");
    free(depth);
    cf_glpn_free(m);
    cf_st_close(expected);
    cf_config_free(&cfg);
}

/* ---------------------------------------------------------------- detection ---- */

/* One forward of the group `prefix` ("" or "batch.") when its pixel_values exist. */
static void run_detr_group(cf_detr *m, const char *dir, const cf_safetensors *expected, const char *prefix)
{
    char name[128];
    snprintf(name, sizeof name, "%spixel_values", prefix);
    if (!cf_st_find(expected, name))
        return;
    const cf_tensor *pv, *pm;
    const float *pixels = f32_input(expected, prefix, "pixel_values", &pv);
    int64_t n = pv->shape[0], h = pv->shape[2], w = pv->shape[3], q = cf_detr_num_queries(m);
    snprintf(name, sizeof name, "%spixel_mask", prefix);
    pm = cf_st_find(expected, name);
    cr_assert(pm && pm->dtype == CF_DTYPE_I64 && cf_tensor_numel(pm) == n * h * w, "%s: bad %s", dir, name);
    uint8_t *mask = malloc((size_t)(n * h * w));
    for (int64_t i = 0; i < n * h * w; i++)
        mask[i] = ((const int64_t *)pm->data)[i] != 0;
    int64_t mh = 0, mw = 0;
    cr_assert(cf_detr_mask_size(m, h, w, &mh, &mw));
    cf_detr_output out = {
        .logits = malloc((size_t)(n * q * cf_detr_num_logits(m)) * sizeof(float)),
        .boxes = malloc((size_t)(n * q * 4) * sizeof(float)),
        .masks = cf_detr_has_masks(m) ? malloc((size_t)(n * q * mh * mw) * sizeof(float)) : NULL,
    };
    check_ctx c = {.check = {.case_dir = dir, .prefix = prefix, .expected = expected, .atol = k_atol, .rtol = k_rtol}};
    cf_vision_tap tap = {.fn = on_tensor, .ctx = &c};
    cf_error err = {0};
    cr_assert_eq(cf_detr_forward(m, pixels, mask, n, h, w, &tap, &out, &err), CF_OK, "%s: %s", dir, err.message);
    static const char *const skip[] = {"pixel_values", "post.", NULL};
    expect_all_compared(&c, skip);
    cr_expect(was_compared(&c, "logits") && was_compared(&c, "pred_boxes"), "%s: %slogits/pred_boxes not compared",
              dir, prefix);
    if (cf_detr_has_masks(m))
        cr_expect(was_compared(&c, "pred_masks"), "%s: pred_masks not compared", dir);
    cr_expect_eq(c.check.failed, 0, "%s: %zu of %zu %s tensors differ", dir, c.check.failed, c.check.compared, prefix);
    free(mask);
    free(out.logits);
    free(out.boxes);
    free(out.masks);
}

static void run_detr_case(const char *dir)
{
    cf_config cfg = {0};
    cf_safetensors *expected = NULL;
    open_case(dir, &cfg, &expected);
    cf_error err = {0};
    cf_detr *m = NULL;
    cr_assert_eq(cf_detr_load(dir, &cfg, &m, &err), CF_OK, "%s: %s", dir, err.message);
    run_detr_group(m, dir, expected, "");
    run_detr_group(m, dir, expected, "batch.");
    cf_detr_free(m);
    cf_st_close(expected);
    cf_config_free(&cfg);
}

Test(vision, vit_cases) { run_family("vit", run_classifier_case); }
Test(vision, convnext_cases) { run_family("convnext", run_classifier_case); }
Test(vision, glpn_cases) { run_family("glpn", run_glpn_case); }
Test(vision, detr_cases) { run_family("detr", run_detr_case); }

Test(vision, classifier_rejects_bad_input)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("vit", "expected.safetensors", &dirs);
    cr_assert_gt(n, 0);
    cf_config cfg = {0};
    cf_safetensors *expected = NULL;
    open_case(dirs[0], &cfg, &expected);
    cf_error err = {0};
    cf_image_classifier *m = NULL;
    cr_assert_eq(cf_image_classifier_load(dirs[0], &cfg, &m, &err), CF_OK, "%s", err.message);
    float pixels[3 * 4 * 4] = {0}, logits[64];
    cr_expect_neq(cf_image_classifier_forward(m, pixels, 1, 4, 4, NULL, logits, &err), CF_OK,
                  "an image smaller than one patch must be refused");
    cr_expect(strstr(err.message, "4x4") != NULL, "message names the size: %s", err.message);
    cf_image_classifier_free(m);
    cf_st_close(expected);
    cf_config_free(&cfg);
    cf_test_free_list(dirs, n);
}
