/* `cformer run --annotate OUT.png --output-dir DIR` on every recorded vision call of the detr and
 * glpn fixtures (walked): the printed JSON names PNG files in DIR instead of base64, each of them
 * decodes at the input's size; the annotated picture decodes at the input's size (twice as wide
 * for depth: input | depth map), and it shows the result: a detection box's left border, a
 * segment's pixels differ from the input; depth keeps the input unchanged on the left. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli_exec.h"
#include "common/testutil.h"
#include "media/image.h"

static const char *const k_tasks[] = {"object-detection", "image-segmentation", "depth-estimation"};

static bool drawable(const char *task)
{
    for (size_t i = 0; i < sizeof k_tasks / sizeof *k_tasks; i++)
        if (!strcmp(task, k_tasks[i]))
            return true;
    return false;
}

static const uint8_t *px(const cf_image *img, int x, int y)
{
    return img->data + ((size_t)y * (size_t)img->width + (size_t)x) * (size_t)img->channels;
}

static bool same_px(const cf_image *a, int ax, int ay, const cf_image *b, int bx, int by)
{
    return !memcmp(px(a, ax, ay), px(b, bx, by), 3);
}

static void load_png(const char *path, cf_image *img)
{
    cf_error err = {0};
    cr_assert_eq(cf_image_load(path, NULL, img, &err), CF_OK, "%s", err.message);
}

/* Every "mask"/"depth" value is a PNG file inside dir with the input's size. */
static size_t check_written_images(const cJSON *node, const char *dir, const cf_image *input)
{
    size_t n = 0;
    for (const cJSON *c = node ? node->child : NULL; c; c = c->next) {
        if (c->string && (!strcmp(c->string, "mask") || !strcmp(c->string, "depth"))) {
            cr_assert(cJSON_IsString(c), "\"%s\" is not a string", c->string);
            cr_expect(!strncmp(c->valuestring, dir, strlen(dir)), "%s is not inside %s", c->valuestring, dir);
            cf_image img = {0};
            load_png(c->valuestring, &img);
            cr_expect(img.width == input->width && img.height == input->height, "%s is %dx%d, input %dx%d",
                      c->valuestring, img.width, img.height, input->width, input->height);
            cf_image_free(&img);
            n++;
        } else {
            n += check_written_images(c, dir, input);
        }
    }
    return n;
}

static void check_detections(const cJSON *out, const cf_image *in, const cf_image *pic)
{
    size_t checked = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, out)
    {
        const cJSON *box = cJSON_GetObjectItem(d, "box");
        int x = cJSON_GetObjectItem(box, "xmin")->valueint, y0 = cJSON_GetObjectItem(box, "ymin")->valueint,
            y1 = cJSON_GetObjectItem(box, "ymax")->valueint, y = (y0 + y1) / 2;
        if (x < 0 || x >= in->width || y < 0 || y >= in->height)
            continue;
        /* the outline is at least 2 pixels thick from xmin inwards; a later box may cover it, but
         * then that one changed the pixel too */
        cr_expect(!same_px(pic, x, y, in, x, y), "pixel (%d,%d) on the left border of a box is unchanged", x, y);
        checked++;
    }
    cr_expect(cJSON_GetArraySize(out) == 0 || checked > 0, "no box border inside the image to check");
}

static void check_segments(const cJSON *out, const cf_image *in, const cf_image *pic)
{
    const cJSON *seg;
    cJSON_ArrayForEach(seg, out)
    {
        cf_image mask = {0};
        load_png(cJSON_GetObjectItem(seg, "mask")->valuestring, &mask);
        size_t inside = 0, changed = 0;
        for (int y = 0; y < in->height; y++)
            for (int x = 0; x < in->width; x++)
                if (px(&mask, x, y)[0] > 127) {
                    inside++;
                    changed += !same_px(pic, x, y, in, x, y);
                }
        /* a translucent fill changes every pixel but one that already has the fill colour */
        cr_expect(changed * 10 >= inside * 9, "only %zu of %zu mask pixels were coloured", changed, inside);
        cf_image_free(&mask);
    }
}

static void check_depth(const cf_image *in, const cf_image *pic)
{
    cr_assert(pic->width == 2 * in->width && pic->height == in->height, "depth picture is %dx%d, want %dx%d",
              pic->width, pic->height, 2 * in->width, in->height);
    size_t differ = 0;
    for (int y = 0; y < in->height; y++)
        for (int x = 0; x < in->width; x++)
            differ += !same_px(pic, x, y, in, x, y);
    cr_expect_eq(differ, 0, "%zu pixels of the input half were changed", differ);
}

static void run_call(const char *dir, const cJSON *call, int index)
{
    const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
    char input[4200], out_dir[128], pic_path[160];
    snprintf(input, sizeof input, "%s/%s", dir, cJSON_GetArrayItem(cJSON_GetObjectItem(call, "args"), 0)->valuestring);
    snprintf(out_dir, sizeof out_dir, "/tmp/cf_cli_vision_%d_%d", (int)getpid(), index);
    snprintf(pic_path, sizeof pic_path, "%s.annotated.png", out_dir);
    const char *args[40] = {"run", task, "-m", dir, "--annotate", pic_path, "--output-dir", out_dir, input};
    size_t n = 9;
    char params[16][512];
    int np = 0;
    const cJSON *kw;
    cJSON_ArrayForEach(kw, cJSON_GetObjectItem(call, "kwargs"))
    {
        cr_assert_lt(np, 16);
        char *v = cJSON_PrintUnformatted(kw);
        snprintf(params[np], sizeof params[np], "%s=%s", kw->string, v);
        free(v);
        args[n++] = "--param";
        args[n++] = params[np++];
    }
    args[n] = NULL;
    cli_result r = cli_run(args, NULL);
    cr_assert_eq(r.status, 0, "%s on %s exited %d: %s", task, dir, r.status, r.err);
    cJSON *out = cJSON_Parse(r.out);
    cr_assert(out, "not JSON: %.300s", r.out);
    cf_image in = {0}, pic = {0};
    load_png(input, &in);
    load_png(pic_path, &pic);
    size_t images = check_written_images(out, out_dir, &in);
    cr_expect(strstr(r.out, "iVBOR") == NULL, "base64 PNG left in the output");
    if (!strcmp(task, "object-detection")) {
        cr_expect(pic.width == in.width && pic.height == in.height);
        check_detections(out, &in, &pic);
    } else if (!strcmp(task, "image-segmentation")) {
        cr_expect(pic.width == in.width && pic.height == in.height);
        cr_expect_eq(images, (size_t)cJSON_GetArraySize(out), "a mask file per segment");
        check_segments(out, &in, &pic);
    } else {
        cr_expect_eq(images, 1, "one depth file");
        check_depth(&in, &pic);
    }
    cf_image_free(&in);
    cf_image_free(&pic);
    cJSON_Delete(out);
    cli_free(&r);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", out_dir, pic_path);
    cr_expect_eq(system(cmd), 0);
}

Test(cli_vision, annotate_and_output_dir_on_every_vision_call)
{
    static const char *const families[] = {"detr", "glpn"};
    int calls = 0;
    for (size_t f = 0; f < 2; f++) {
        char **dirs = NULL;
        size_t n = cf_test_cases(families[f], "expected.json", &dirs);
        for (size_t i = 0; i < n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
            cJSON *exp = cf_test_read_json(path);
            const cJSON *entry;
            cJSON_ArrayForEach(entry, cJSON_GetObjectItem(exp, "calls"))
            {
                const cJSON *call = cJSON_GetObjectItem(entry, "call");
                if (drawable(cJSON_GetObjectItem(call, "task")->valuestring))
                    run_call(dirs[i], call, calls++);
            }
            cJSON_Delete(exp);
        }
        cf_test_free_list(dirs, n);
    }
    cr_assert_gt(calls, 0, "no detr/glpn vision calls under %s", cf_test_fixtures());
}

Test(cli_vision, annotate_refuses_other_tasks_and_bad_output_dir)
{
    cli_result r = cli_run((const char *const[]){"run", "text-classification", "--annotate", "/tmp/x.png", "hi", NULL},
                           NULL);
    cr_expect_eq(r.status, 2, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.err, "--annotate") != NULL, "%s", r.err);
    cli_free(&r);
}
