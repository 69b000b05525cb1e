/* The image pipelines (image-classification, object-detection, image-segmentation,
 * depth-estimation) replaying every recorded call of every vit / convnext / detr / glpn fixture
 * case through cf_pipeline_run_once, the code path of `cformer run TASK -m CASE --json PAYLOAD`
 * (inputs = the image file the call names, in the case folder). Tolerances:
 *   scores              |a - b| <= 1e-4 (the reference starts from its own pixel_values; logits
 *                       agree to ~1e-6, 1- vs 2-thread diffs up to 1e-5)
 *   labels, order       exact
 *   boxes               +-1 per coordinate (Python truncates float boxes)
 *   masks               pixel-exact against the recorded PNGs
 *   predicted_depth     |a - b| <= 1e-4 + 1e-4 |b|
 *   depth PNG           +-1 per pixel (uint8 truncation of a float) */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/replay.h"
#include "common/testutil.h"
#include "io/safetensors.h"
#include "media/image.h"
#include "pipelines/pipeline.h"
#include "pipelines/vision_common.h"

static const double k_score_tol = 1e-4;

typedef struct call_ctx {
    const char *dir;
    int index;
} call_ctx;

static cJSON *run_call(const char *dir, const cJSON *call)
{
    const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
    char *body = cf_test_call_payload(dir, call), *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, body, &out, &err);
    cr_assert_eq(s, CF_OK, "%s: %s %s: %s", dir, task, body, err.message);
    cJSON *got = cJSON_Parse(out);
    cr_assert(got, "%s: output is not JSON: %.200s", dir, out);
    free(out);
    free(body);
    return got;
}

static void expect_score(const call_ctx *c, const cJSON *got, const cJSON *want)
{
    if (cJSON_IsNull(want)) {
        cr_expect(cJSON_IsNull(got), "%s call %d: score should be null", c->dir, c->index);
        return;
    }
    cr_assert(cJSON_IsNumber(got), "%s call %d: score is not a number", c->dir, c->index);
    cr_expect(fabs(got->valuedouble - want->valuedouble) <= k_score_tol, "%s call %d: score %.8g, want %.8g", c->dir,
              c->index, got->valuedouble, want->valuedouble);
}

static void expect_label(const call_ctx *c, const cJSON *got, const cJSON *want)
{
    const char *g = cJSON_GetStringValue(cJSON_GetObjectItem(got, "label"));
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItem(want, "label"));
    cr_expect(g && w && !strcmp(g, w), "%s call %d: label '%s', want '%s'", c->dir, c->index, g ? g : "(none)", w);
}

static void decode_png_b64(const char *b64, cf_image *img)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    cf_error err = {0};
    cr_assert_eq(cf_base64_decode(b64, &bytes, &size, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_image_decode(bytes, size, "output png", NULL, img, &err), CF_OK, "%s", err.message);
    free(bytes);
}

/* Pixels of a decoded (RGB) output PNG against the recorded PNG; returns the worst difference. */
static int png_diff(const call_ctx *c, const char *b64, const char *file, int64_t *n_diff)
{
    cf_image got = {0}, want = {0};
    decode_png_b64(b64, &got);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", c->dir, file);
    cf_error err = {0};
    cr_assert_eq(cf_image_load(path, NULL, &want, &err), CF_OK, "%s", err.message);
    cr_assert(got.width == want.width && got.height == want.height, "%s call %d: %s is %dx%d, got %dx%d", c->dir,
              c->index, file, want.width, want.height, got.width, got.height);
    int worst = 0;
    *n_diff = 0;
    for (size_t i = 0; i < (size_t)got.width * got.height * 3; i++) {
        int d = abs((int)got.data[i] - (int)want.data[i]);
        worst = d > worst ? d : worst;
        *n_diff += d != 0;
    }
    cf_image_free(&got);
    cf_image_free(&want);
    return worst;
}

static void compare_list(const call_ctx *c, const char *task, const cJSON *got, const cJSON *want)
{
    cr_assert(cJSON_IsArray(got), "%s call %d: output is not a list", c->dir, c->index);
    cr_assert_eq(cJSON_GetArraySize(got), cJSON_GetArraySize(want), "%s call %d (%s): %d results, want %d", c->dir,
                 c->index, task, cJSON_GetArraySize(got), cJSON_GetArraySize(want));
    for (int i = 0; i < cJSON_GetArraySize(want); i++) {
        const cJSON *g = cJSON_GetArrayItem(got, i), *w = cJSON_GetArrayItem(want, i);
        expect_label(c, g, w);
        expect_score(c, cJSON_GetObjectItem(g, "score"), cJSON_GetObjectItem(w, "score"));
        const cJSON *wbox = cJSON_GetObjectItem(w, "box");
        if (wbox) {
            static const char *const keys[] = {"xmin", "ymin", "xmax", "ymax"};
            for (int k = 0; k < 4; k++) {
                const cJSON *gv = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "box"), keys[k]);
                double want_v = cJSON_GetObjectItem(wbox, keys[k])->valuedouble;
                cr_expect(cJSON_IsNumber(gv) && fabs(gv->valuedouble - want_v) <= 1, "%s call %d box %d %s: %g, want %g",
                          c->dir, c->index, i, keys[k], gv ? gv->valuedouble : NAN, want_v);
                cr_expect(gv && gv->valuedouble == floor(gv->valuedouble), "box coordinates are integers");
            }
        }
        const cJSON *wmask = cJSON_GetObjectItem(w, "mask");
        if (wmask) {
            int64_t n_diff;
            int worst = png_diff(c, cJSON_GetObjectItem(g, "mask")->valuestring, wmask->valuestring, &n_diff);
            cr_expect_eq(worst, 0, "%s call %d: mask %s differs in %lld samples", c->dir, c->index, wmask->valuestring,
                         (long long)n_diff);
        }
    }
}

static void compare_depth(const call_ctx *c, const cJSON *got, const cJSON *want)
{
    const char *ref = cJSON_GetObjectItem(want, "predicted_depth")->valuestring;
    cr_assert(!strncmp(ref, "tensor:", 7), "predicted_depth reference is '%s'", ref);
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.safetensors", c->dir);
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    const cf_tensor *t = cf_st_find(st, ref + 7);
    cr_assert(t && t->ndim == 3 && t->dtype == CF_DTYPE_F32, "%s: no tensor %s", c->dir, ref + 7);
    const cJSON *outer = cJSON_GetObjectItem(got, "predicted_depth");
    cr_assert(cJSON_IsArray(outer) && cJSON_GetArraySize(outer) == t->shape[0], "predicted_depth is not [1, h, w]");
    const cJSON *rows = cJSON_GetArrayItem(outer, 0);
    cr_assert_eq(cJSON_GetArraySize(rows), t->shape[1], "predicted_depth has %d rows, want %lld",
                 cJSON_GetArraySize(rows), (long long)t->shape[1]);
    size_t n = (size_t)(t->shape[1] * t->shape[2]), k = 0;
    float *flat = malloc(n * sizeof(float));
    const cJSON *row, *v;
    cJSON_ArrayForEach(row, rows)
    {
        cr_assert_eq(cJSON_GetArraySize(row), t->shape[2], "predicted_depth row width");
        cJSON_ArrayForEach(v, row) flat[k++] = (float)v->valuedouble;
    }
    double worst;
    size_t at;
    cr_expect(cf_test_allclose(flat, t->data, n, 1e-4, 1e-4, &worst, &at), "%s: predicted_depth differs by %g at %zu",
              c->dir, worst, at);
    free(flat);
    cf_st_close(st);
    int64_t n_diff;
    int png_worst = png_diff(c, cJSON_GetObjectItem(got, "depth")->valuestring,
                             cJSON_GetObjectItem(want, "depth")->valuestring, &n_diff);
    cr_expect_leq(png_worst, 1, "%s: depth PNG differs by up to %d (%lld samples)", c->dir, png_worst,
                  (long long)n_diff);
}

static void replay_entry(const char *dir, const cJSON *entry, int index, void *replayed)
{
    call_ctx c = {.dir = dir, .index = index};
    const cJSON *call = cJSON_GetObjectItem(entry, "call"), *want = cJSON_GetObjectItem(entry, "output");
    const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
    cJSON *got = run_call(dir, call);
    if (!strcmp(task, "depth-estimation"))
        compare_depth(&c, got, want);
    else
        compare_list(&c, task, got, want);
    cJSON_Delete(got);
    ++*(size_t *)replayed;
}

static void replay_family(const char *family)
{
    size_t replayed = 0;
    cr_assert_gt(cf_test_each_call(family, replay_entry, &replayed), 0, "no %s fixture cases", family);
    cr_expect_gt(replayed, 0, "%s: no pipeline calls recorded", family);
}

Test(vision_pipelines, vit) { replay_family("vit"); }
Test(vision_pipelines, convnext) { replay_family("convnext"); }
Test(vision_pipelines, detr) { replay_family("detr"); }
Test(vision_pipelines, glpn) { replay_family("glpn"); }

/* First case of the family whose recorded calls use `task`. */
static char *case_for_task(const char *family, const char *task)
{
    char **dirs = NULL, *found = NULL;
    size_t n = cf_test_cases(family, "expected.json", &dirs);
    for (size_t i = 0; i < n && !found; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
        cJSON *expected = cf_test_read_json(path);
        const cJSON *entry;
        cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
        {
            const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "task"));
            if (!found && t && !strcmp(t, task))
                found = strdup(dirs[i]);
        }
        cJSON_Delete(expected);
    }
    cf_test_free_list(dirs, n);
    cr_assert(found, "no %s case records a %s call", family, task);
    return found;
}

static void expect_failure(const char *task, const char *family, const char *payload, const char *needle)
{
    char *dir = case_for_task(family, task), *out = NULL;
    cf_error err = {0};
    cr_expect_neq(cf_pipeline_run_once(task, dir, NULL, payload, &out, &err), CF_OK, "%s must fail", payload);
    cr_expect(strstr(err.message, needle) != NULL, "message '%s' should mention '%s'", err.message, needle);
    free(out);
    free(dir);
}

Test(vision_pipelines, bad_inputs)
{
    expect_failure("image-classification", "vit", "{\"inputs\": \"/nonexistent/cat.png\"}", "does not exist");
    expect_failure("image-classification", "vit", "{\"inputs\": 42}", "file path");
    expect_failure("object-detection", "detr", "{\"inputs\": \"aGVsbG8gd29ybGQ=\"}", "");
    char path[4096];
    snprintf(path, sizeof path, "{\"inputs\": \"%s/vit/image_classification/chelsea.png\", \"parameters\": "
                                "{\"subtask\": \"bogus\"}}",
             cf_test_fixtures());
    expect_failure("image-segmentation", "detr", path, "subtask");
    expect_failure("image-classification", "vit", "{\"inputs\": \"x.png\", \"parameters\": {\"nope\": 1}}", "nope");
}
