/* Drawing results (pipelines/annotate.h) on bad or unexpected results: clear errors, never a
 * crash; and the drawn pixels where they belong. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pipelines/annotate.h"
#include "pipelines/vision_common.h"

static cf_image grey(int w, int h)
{
    cf_image img = {0};
    cf_error err = {0};
    cr_assert_eq(cf_image_alloc(&img, w, h, 3, &err), CF_OK);
    memset(img.data, 128, (size_t)w * (size_t)h * 3);
    return img;
}

static cf_status annotate_json(const char *task, const cf_image *in, const char *json, cf_image *out, cf_error *err)
{
    cJSON *r = cJSON_Parse(json);
    cr_assert(r, "bad test JSON %s", json);
    cf_status s = cf_annotate(task, in, r, out, err);
    cJSON_Delete(r);
    return s;
}

Test(annotate, box_outline_and_label_drawn)
{
    cf_image in = grey(200, 150), out;
    cf_error err = {0};
    cr_assert_eq(annotate_json("object-detection", &in,
                               "[{\"score\":0.9,\"label\":\"cat\",\"box\":{\"xmin\":20,\"ymin\":40,\"xmax\":120,\"ymax\":"
                               "140}}]",
                               &out, &err),
                 CF_OK, "%s", err.message);
    cr_expect(out.width == 200 && out.height == 150);
    const uint8_t *border = out.data + ((size_t)90 * 200 + 20) * 3, *inside = out.data + ((size_t)90 * 200 + 70) * 3;
    cr_expect(memcmp(border, in.data, 3) != 0, "left border not drawn");
    cr_expect(inside[0] == 128 && inside[1] == 128 && inside[2] == 128, "the box interior was painted");
    size_t changed_above = 0; /* the label tag sits above the box */
    for (int y = 0; y < 40; y++)
        for (int x = 20; x < 120; x++)
            changed_above += out.data[((size_t)y * 200 + (size_t)x) * 3] != 128;
    cr_expect_gt(changed_above, 50, "no label above the box");
    cf_image_free(&out);
    cf_image_free(&in);
}

Test(annotate, bad_results_are_clear_errors)
{
    cf_image in = grey(40, 30), out;
    cf_error err = {0};
    cr_expect_eq(annotate_json("object-detection", &in, "{\"a\":1}", &out, &err), CF_ERR_FORMAT);
    cr_expect_eq(annotate_json("object-detection", &in, "[{\"score\":0.5,\"label\":\"x\"}]", &out, &err),
                 CF_ERR_FORMAT);
    cr_expect(strstr(err.message, "box") != NULL, "%s", err.message);
    cr_expect_eq(annotate_json("object-detection", &in, "[[]]", &out, &err), CF_ERR_FORMAT);
    cr_expect_eq(annotate_json("image-segmentation", &in, "[{\"label\":\"x\",\"mask\":\"!!notbase64\"}]", &out, &err),
                 CF_ERR_INVALID_ARG);
    cr_expect_eq(annotate_json("depth-estimation", &in, "[]", &out, &err), CF_ERR_FORMAT);
    cr_expect_eq(annotate_json("text-classification", &in, "[]", &out, &err), CF_ERR_UNSUPPORTED);
    cr_expect(!cf_annotate_supports("fill-mask") && cf_annotate_supports("depth-estimation"));
    /* a mask of another size than the input */
    cf_image small = grey(10, 10);
    cJSON *png = NULL;
    cr_assert_eq(cf_vision_png_json(&small, &png, &err), CF_OK);
    char json[4096];
    snprintf(json, sizeof json, "[{\"label\":\"x\",\"score\":1,\"mask\":\"%s\"}]", png->valuestring);
    cr_expect_eq(annotate_json("image-segmentation", &in, json, &out, &err), CF_ERR_SHAPE);
    cr_expect(strstr(err.message, "10x10") != NULL, "%s", err.message);
    cJSON_Delete(png);
    cf_image_free(&small);
    cf_image_free(&in);
}

Test(annotate, text_width_and_glyphs)
{
    cf_image img = grey(64, 16);
    const uint8_t black[3] = {0, 0, 0};
    cr_expect_eq(cf_annotate_text_width("ab", 1), 11);
    cr_expect_eq(cf_annotate_text_width("", 2), 0);
    cf_annotate_text(&img, 1, 1, "I\x01\xff", 1, black); /* unprintable bytes draw '?' */
    size_t dark = 0;
    for (size_t i = 0; i < (size_t)64 * 16 * 3; i += 3)
        dark += img.data[i] == 0;
    cr_expect_gt(dark, 10);
    cf_annotate_text(&img, -100, -100, "clipped", 3, black); /* off the image: no write outside */
    cf_image_free(&img);
}
