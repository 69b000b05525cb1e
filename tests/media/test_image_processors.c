/* Image processors against every stored pixel_values / pixel_mask in the fixtures: each case
 * folder (any family) whose expected.safetensors holds "pixel_values" is preprocessed from its
 * preprocessor_config.json and the image its inputs.json names.
 *
 * Tolerances: PNG (and other lossless) inputs must match to 1e-6 absolute (the steps are
 * deterministic: PIL-exact resize, float64 rescale, float32 normalize). JPEG inputs may differ by
 * the measured decoder tolerance of 2 levels (stb_image vs libjpeg-turbo), i.e. by
 * 2 * rescale_factor / min(std) after normalization. pixel_mask must match exactly. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "media/image.h"
#include "media/image_processors.h"

#define LOSSLESS_ATOL 1e-6
#define JPEG_LEVELS 2.0

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The case's image: next to the case, else in the shared media folder. */
static void image_path(const char *case_dir, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", case_dir, name);
    if (!cf_file_exists(out))
        snprintf(out, size, "%s/image/media/%s", cf_test_fixtures(), name);
}

static double tolerance_for(const cf_image_processor *p, const char *path)
{
    if (!ends_with(path, ".jpg") && !ends_with(path, ".jpeg"))
        return LOSSLESS_ATOL;
    double min_std = fmin(p->std[0], fmin(p->std[1], p->std[2]));
    double scale = p->do_rescale ? p->rescale_factor : 1.0;
    return JPEG_LEVELS * scale / (p->do_normalize ? min_std : 1.0) + LOSSLESS_ATOL;
}

typedef struct image_case {
    char dir[4096];
    cf_config cfg;
    cf_image_processor proc;
    cf_safetensors *st;
    char image[4200];
} image_case;

static bool open_case(const char *dir, image_case *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    char path[4200];
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    if (!cf_file_exists(path))
        return false;
    cr_assert_eq(cf_st_open(path, &c->st, &err), CF_OK, "%s", err.message);
    if (!cf_st_find(c->st, "pixel_values")) {
        cf_st_close(c->st);
        return false;
    }
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    cr_assert_eq(cf_config_load(&c->cfg, path, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_image_processor_init(&c->proc, &c->cfg, &err), CF_OK, "%s", err.message);
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    cJSON *inputs = cf_test_read_json(path);
    cr_assert(inputs, "%s: unreadable", path);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(inputs, "image");
    cr_assert(cJSON_IsString(name), "%s: no \"image\" string", path);
    image_path(dir, name->valuestring, c->image, sizeof c->image);
    cJSON_Delete(inputs);
    return true;
}

static void close_case(image_case *c)
{
    cf_st_close(c->st);
    cf_config_free(&c->cfg);
}

/* Every case folder under every family of the fixtures. */
static size_t all_case_dirs(char ***out)
{
    size_t n = 0, cap = 0;
    char **all = NULL;
    DIR *d = opendir(cf_test_fixtures());
    cr_assert(d, "fixtures not found at %s", cf_test_fixtures());
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **dirs;
        size_t k = cf_test_cases(e->d_name, "preprocessor_config.json", &dirs);
        for (size_t i = 0; i < k; i++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                all = realloc(all, cap * sizeof *all);
            }
            all[n++] = dirs[i];
        }
        free(dirs);
    }
    closedir(d);
    *out = all;
    return n;
}

static float *load_tensor(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape)
{
    float *v = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_get_f32(st, name, ndim, shape, &v, &err), CF_OK, "%s", err.message);
    return v;
}

/* An integer mask tensor (I64 as transformers returns it) as floats 0/1. */
static float *load_mask(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape)
{
    const cf_tensor *t = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_get(st, name, ndim, shape, &t, &err), CF_OK, "%s", err.message);
    cr_assert_eq(t->dtype, CF_DTYPE_I64, "%s: expected an I64 mask", name);
    size_t n = (size_t)cf_tensor_numel(t);
    float *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, (const char *)t->data + i * sizeof v, sizeof v);
        out[i] = (float)v;
    }
    return out;
}

/* Compare our batch with the stored "<prefix>pixel_values" / "<prefix>pixel_mask". */
static double compare_batch(const image_case *c, const char *prefix, const cf_pixel_values *pv, double atol)
{
    char name[128];
    snprintf(name, sizeof name, "%spixel_values", prefix);
    int64_t shape[4] = {(int64_t)pv->n, 3, pv->height, pv->width};
    float *want = load_tensor(c->st, name, 4, shape);
    double worst = 0;
    size_t at = 0, count = pv->n * 3 * (size_t)pv->height * (size_t)pv->width;
    bool ok = cf_test_allclose(pv->values, want, count, atol, 0, &worst, &at);
    cr_expect(ok, "%s: %s differs by %g at flat index %zu (tolerance %g)", c->dir, name, worst, at, atol);
    free(want);

    snprintf(name, sizeof name, "%spixel_mask", prefix);
    if (cf_st_find(c->st, name)) {
        cr_assert(pv->mask, "%s: %s stored but the processor gave no mask", c->dir, name);
        int64_t mshape[3] = {(int64_t)pv->n, pv->height, pv->width};
        float *mask = load_mask(c->st, name, 3, mshape);
        size_t bad = 0;
        for (size_t i = 0; i < pv->n * (size_t)pv->height * (size_t)pv->width; i++)
            bad += mask[i] != (float)pv->mask[i];
        cr_expect_eq(bad, 0, "%s: %s differs at %zu positions", c->dir, name, bad);
        free(mask);
    }
    fprintf(stderr, "[image] %-60s %spixel_values [%zu,3,%lld,%lld] max |diff| %.3g (tolerance %g)\n", c->dir, prefix,
            pv->n, (long long)pv->height, (long long)pv->width, worst, atol);
    return worst;
}

Test(image_processors, fixture_pixel_values_match)
{
    char **dirs;
    size_t n = all_case_dirs(&dirs), checked = 0;
    for (size_t i = 0; i < n; i++) {
        image_case c;
        if (!open_case(dirs[i], &c))
            continue;
        cf_image img;
        cf_error err = {0};
        cr_assert_eq(cf_image_load(c.image, NULL, &img, &err), CF_OK, "%s", err.message);
        cf_pixel_values pv;
        const cf_image *one = &img;
        cr_assert_eq(cf_image_processor_run(&c.proc, &one, 1, &pv, &err), CF_OK, "%s: %s", c.dir, err.message);
        cr_expect_eq(pv.sizes[0].orig_height, img.height);
        cr_expect_eq(pv.sizes[0].orig_width, img.width);
        compare_batch(&c, "", &pv, tolerance_for(&c.proc, c.image));
        checked++;
        cf_pixel_values_free(&pv);
        cf_image_free(&img);
        close_case(&c);
    }
    cf_test_free_list(dirs, n);
    cr_assert_gt(checked, 0, "no fixture case holds pixel_values");
}

/* ---------------------------------------------------------------- batches ---- */

/* Size of the unpadded region of batch element i, from the stored mask. */
static void masked_size(const float *mask, int64_t h, int64_t w, size_t i, int64_t *mh, int64_t *mw)
{
    *mh = *mw = 0;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            if (mask[(size_t)i * (size_t)(h * w) + (size_t)(y * w + x)] != 0) {
                *mh = y + 1 > *mh ? y + 1 : *mh;
                *mw = x + 1 > *mw ? x + 1 : *mw;
            }
}

/* inputs.json names only the first image of a stored batch; the others are identified among the
 * case's image and the shared media by the size they come out at (from the stored mask). */
static bool find_batch_image(const image_case *c, int64_t want_h, int64_t want_w, char *path, size_t size)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/image/media", cf_test_fixtures());
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d))) {
        if (!ends_with(e->d_name, ".png"))
            continue;
        snprintf(path, size, "%s/%s", dir, e->d_name);
        cf_image img;
        cf_error err = {0};
        if (cf_image_load(path, NULL, &img, &err) != CF_OK)
            continue;
        int64_t h, w;
        found = cf_image_processor_output_size(&c->proc, img.height, img.width, &h, &w, &err) == CF_OK &&
                h == want_h && w == want_w;
        cf_image_free(&img);
    }
    closedir(d);
    return found;
}

Test(image_processors, fixture_padded_batches_match)
{
    char **dirs;
    size_t n = all_case_dirs(&dirs);
    for (size_t i = 0; i < n; i++) {
        image_case c;
        if (!open_case(dirs[i], &c))
            continue;
        const cf_tensor *bt = cf_st_find(c.st, "batch.pixel_values");
        if (!bt) {
            close_case(&c);
            continue;
        }
        size_t batch = (size_t)bt->shape[0];
        int64_t h = bt->shape[2], w = bt->shape[3];
        int64_t mshape[3] = {(int64_t)batch, h, w};
        float *mask = load_mask(c.st, "batch.pixel_mask", 3, mshape);
        cf_image *imgs = calloc(batch, sizeof *imgs);
        const cf_image **ptrs = calloc(batch, sizeof *ptrs);
        cf_error err = {0};
        for (size_t b = 0; b < batch; b++) {
            char path[4400];
            if (b == 0) {
                snprintf(path, sizeof path, "%s", c.image);
            } else {
                int64_t mh, mw;
                masked_size(mask, h, w, b, &mh, &mw);
                cr_assert(find_batch_image(&c, mh, mw, path, sizeof path),
                          "%s: no media image comes out %lldx%lld for batch element %zu", c.dir, (long long)mw,
                          (long long)mh, b);
            }
            cr_assert_eq(cf_image_load(path, NULL, &imgs[b], &err), CF_OK, "%s", err.message);
            ptrs[b] = &imgs[b];
        }
        cf_pixel_values pv;
        cr_assert_eq(cf_image_processor_run(&c.proc, ptrs, batch, &pv, &err), CF_OK, "%s", err.message);
        cr_assert_eq(pv.height, h);
        cr_assert_eq(pv.width, w);
        compare_batch(&c, "batch.", &pv, LOSSLESS_ATOL);
        cf_pixel_values_free(&pv);
        for (size_t b = 0; b < batch; b++)
            cf_image_free(&imgs[b]);
        free(imgs);
        free(ptrs);
        free(mask);
        close_case(&c);
    }
    cf_test_free_list(dirs, n);
}

/* ---------------------------------------------------------------- config forms ---- */

static cf_image_processor processor_from(const char *json)
{
    cf_config cfg;
    cf_error err = {0};
    cr_assert_eq(cf_config_parse(&cfg, json, strlen(json), "preprocessor_config.json", &err), CF_OK, "%s",
                 err.message);
    cf_image_processor p;
    cr_assert_eq(cf_image_processor_init(&p, &cfg, &err), CF_OK, "%s", err.message);
    cf_config_free(&cfg);
    return p;
}

static cf_status init_error(const char *json, cf_error *err)
{
    cf_config cfg;
    cr_assert_eq(cf_config_parse(&cfg, json, strlen(json), "preprocessor_config.json", err), CF_OK);
    cf_image_processor p;
    cf_status st = cf_image_processor_init(&p, &cfg, err);
    cf_config_free(&cfg);
    return st;
}

static void expect_size(const cf_image_processor *p, int64_t h, int64_t w, int64_t want_h, int64_t want_w)
{
    int64_t oh, ow;
    cf_error err = {0};
    cr_assert_eq(cf_image_processor_output_size(p, h, w, &oh, &ow, &err), CF_OK, "%s", err.message);
    cr_expect(oh == want_h && ow == want_w, "%s: %lldx%lld (h x w) -> %lldx%lld, want %lldx%lld", p->name,
              (long long)h, (long long)w, (long long)oh, (long long)ow, (long long)want_h, (long long)want_w);
}

/* The feature-extractor form of facebook/detr-resnet-50 (int size + max_size) and of ViT. */
Test(image_processors, legacy_config_forms)
{
    cf_image_processor detr = processor_from("{\"feature_extractor_type\": \"DetrFeatureExtractor\", \"size\": 800,"
                                             " \"max_size\": 1333, \"do_normalize\": true}");
    expect_size(&detr, 480, 640, 800, 1066);
    expect_size(&detr, 300, 1000, 400, 1333); /* capped by the longest edge: round(1333 * 300 / 1000) = 400 */
    cr_expect(detr.do_pad && detr.do_rescale);
    cf_image_processor vit = processor_from("{\"feature_extractor_type\": \"ViTFeatureExtractor\", \"size\": 224}");
    expect_size(&vit, 300, 451, 224, 224);
    cr_expect_float_eq(vit.mean[0], 0.5, 1e-12);
    cf_image_processor convnext = processor_from("{\"image_processor_type\": \"ConvNextImageProcessor\","
                                                 " \"size\": {\"shortest_edge\": 384}}");
    expect_size(&convnext, 300, 451, 384, 384);
    cr_expect_float_eq(convnext.crop_pct, 224.0 / 256, 1e-12);
    cf_image_processor glpn = processor_from("{\"image_processor_type\": \"GLPNImageProcessor\"}");
    expect_size(&glpn, 61, 97, 32, 96);
    cr_expect(!glpn.do_normalize);
}

Test(image_processors, bad_configs_name_the_problem)
{
    cf_error err = {0};
    cr_expect_eq(init_error("{\"size\": 224}", &err), CF_ERR_NOT_FOUND);
    cr_expect(strstr(err.message, "image_processor_type"), "%s", err.message);
    cr_expect_eq(init_error("{\"image_processor_type\": \"SamImageProcessor\"}", &err), CF_ERR_UNSUPPORTED);
    cr_expect(strstr(err.message, "SamImageProcessor"), "%s", err.message);
    cr_expect_neq(init_error("{\"image_processor_type\": \"ViTImageProcessor\", \"resample\": 7}", &err), CF_OK);
    cr_expect(strstr(err.message, "resample"), "%s", err.message);
    cr_expect_neq(init_error("{\"image_processor_type\": \"ViTImageProcessor\", \"image_mean\": [0.5, 0.5]}", &err),
                  CF_OK);
    cr_expect(strstr(err.message, "image_mean"), "%s", err.message);
    cr_expect_neq(init_error("{\"image_processor_type\": \"DetrImageProcessor\", \"size\": {\"shortest_edge\": 800}}",
                             &err), CF_OK);
    cr_expect(strstr(err.message, "longest_edge"), "%s", err.message);

    cf_image_processor glpn = processor_from("{\"image_processor_type\": \"GLPNImageProcessor\"}");
    int64_t h, w;
    cr_expect_neq(cf_image_processor_output_size(&glpn, 20, 100, &h, &w, &err), CF_OK);
    cr_expect(strstr(err.message, "size_divisor"), "%s", err.message);
}

/* crop_pct > 1 makes the resized image smaller than the crop: transformers zero-pads it with the
 * odd row on top (ceil of half the difference). 53 rows in a 64-row crop: 6 above, 5 below. */
Test(image_processors, center_crop_pads_smaller_images)
{
    cf_image_processor p = processor_from("{\"image_processor_type\": \"ConvNextImageProcessor\", \"crop_pct\": 1.2,"
                                          " \"size\": {\"shortest_edge\": 64}, \"do_normalize\": false}");
    cf_image img;
    cf_error err = {0};
    cr_assert_eq(cf_image_alloc(&img, 80, 53, 3, &err), CF_OK);
    memset(img.data, 200, (size_t)80 * 53 * 3);
    cf_pixel_values pv;
    const cf_image *one = &img;
    cr_assert_eq(cf_image_processor_run(&p, &one, 1, &pv, &err), CF_OK, "%s", err.message);
    cr_assert(pv.height == 64 && pv.width == 64);
    float inside = (float)(200 * (1.0 / 255));
    for (int y = 0; y < 64; y++) {
        float want = y >= 6 && y < 59 ? inside : 0.0f;
        cr_expect_eq(pv.values[(size_t)y * 64 + 32], want, "row %d", y);
    }
    cf_pixel_values_free(&pv);
    cf_image_free(&img);
}
