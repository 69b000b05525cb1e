/* Image input cost: decode + preprocess, in ms (median of repeated runs), for a ViT 224x224
 * input (from chelsea.png, 451x300 PNG, and rocket.jpg, 640x427 JPEG) and a DETR 800x1066 input
 * (a 1280x960 PNG made at start-up, the COCO-like 4:3 shape DETR resizes to 800x1066).
 *
 *   bench_image [media dir]   (default: $CFORMER_FIXTURES/image/media or ../shared/fixtures/image/media) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bench_util.h"
#include "core/buf.h"
#include "io/config.h"
#include "media/image.h"
#include "media/image_processors.h"
#include "media/resize.h"

#define RUNS 15

static const char VIT_CONFIG[] = "{\"image_processor_type\": \"ViTImageProcessor\", \"size\": {\"height\": 224, "
                                 "\"width\": 224}, \"resample\": 2, \"image_mean\": [0.5, 0.5, 0.5], "
                                 "\"image_std\": [0.5, 0.5, 0.5]}";
static const char DETR_CONFIG[] = "{\"image_processor_type\": \"DetrImageProcessor\", \"size\": {\"shortest_edge\": "
                                  "800, \"longest_edge\": 1333}, \"resample\": 2}";

static _Noreturn void die(const cf_error *err)
{
    fprintf(stderr, "bench_image: %s\n", err->message);
    exit(1);
}

typedef struct timing {
    double decode_ms, preprocess_ms;
    int64_t out_h, out_w;
} timing;

static timing measure(const uint8_t *bytes, size_t n, const cf_image_processor *p)
{
    double dec[RUNS], pre[RUNS];
    timing t = {0};
    cf_error err = {0};
    for (int r = 0; r < RUNS; r++) {
        cf_image img;
        double t0 = bench_now_ms();
        if (cf_image_decode(bytes, n, "bench input", NULL, &img, &err) != CF_OK)
            die(&err);
        double t1 = bench_now_ms();
        cf_pixel_values pv;
        const cf_image *one = &img;
        if (cf_image_processor_run(p, &one, 1, &pv, &err) != CF_OK)
            die(&err);
        double t2 = bench_now_ms();
        dec[r] = t1 - t0;
        pre[r] = t2 - t1;
        t.out_h = pv.height;
        t.out_w = pv.width;
        cf_pixel_values_free(&pv);
        cf_image_free(&img);
    }
    t.decode_ms = bench_median(dec, RUNS);
    t.preprocess_ms = bench_median(pre, RUNS);
    return t;
}

static cf_image_processor processor(const char *json)
{
    cf_config cfg;
    cf_error err = {0};
    cf_image_processor p;
    if (cf_config_parse(&cfg, json, strlen(json), "bench config", &err) != CF_OK ||
        cf_image_processor_init(&p, &cfg, &err) != CF_OK)
        die(&err);
    cf_config_free(&cfg);
    return p;
}

static uint8_t *read_media(const char *dir, const char *name, size_t *n)
{
    char path[4096];
    char *bytes;
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (cf_read_file(path, CF_IMAGE_MAX_FILE_BYTES, &bytes, n, &err) != CF_OK)
        die(&err);
    return (uint8_t *)bytes;
}

/* A 1280x960 PNG from rocket.jpg, the input size for DETR's 800x1066. */
static uint8_t *make_detr_input(const uint8_t *jpg, size_t n, size_t *out_n)
{
    cf_image img, big;
    cf_error err = {0};
    uint8_t *png;
    if (cf_image_decode(jpg, n, "rocket.jpg", NULL, &img, &err) != CF_OK ||
        cf_image_resize(&img, 1280, 960, CF_RESAMPLE_BICUBIC, &big, &err) != CF_OK ||
        cf_image_encode_png(&big, &png, out_n, &err) != CF_OK)
        die(&err);
    cf_image_free(&img);
    cf_image_free(&big);
    return png;
}

static void row(const char *what, const char *input, timing t)
{
    printf("| %-14s | %-26s | %5lldx%-5lld | %9.2f | %13.2f | %8.2f |\n", what, input, (long long)t.out_w,
           (long long)t.out_h, t.decode_ms, t.preprocess_ms, t.decode_ms + t.preprocess_ms);
}

int main(int argc, char **argv)
{
    char dir[4096];
    const char *fx = getenv("CFORMER_FIXTURES");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/image/media", fx && *fx ? fx : "../shared/fixtures");
    size_t n_png, n_jpg, n_big;
    uint8_t *png = read_media(dir, "chelsea.png", &n_png), *jpg = read_media(dir, "rocket.jpg", &n_jpg);
    uint8_t *big = make_detr_input(jpg, n_jpg, &n_big);
    cf_image_processor vit = processor(VIT_CONFIG), detr = processor(DETR_CONFIG);

    printf("image input, single thread, median of %d runs (ms)\n\n", RUNS);
    printf("| processor      | input                      | out (w x h) | decode ms | preprocess ms | total ms |\n");
    printf("|----------------|----------------------------|-------------|-----------|---------------|----------|\n");
    row("ViT 224", "chelsea.png 451x300", measure(png, n_png, &vit));
    row("ViT 224", "rocket.jpg 640x427", measure(jpg, n_jpg, &vit));
    row("DETR 800/1333", "PNG 1280x960", measure(big, n_big, &detr));
    row("DETR 800/1333", "rocket.jpg 640x427", measure(jpg, n_jpg, &detr));
    free(png);
    free(jpg);
    free(big);
    return 0;
}
