/* Drawing vision results on their input image (see annotate.h). */
#include "pipelines/annotate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "pipelines/pipeline.h"
#include "pipelines/vision_common.h"

/* ------------------------------------------------------------ the font ---- */

/* 5x7 glyphs for ASCII 0x20..0x7E: five columns each, bit 0 = top row. */
static const uint8_t k_font[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00},
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62},
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00},
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x08, 0x2A, 0x1C, 0x2A, 0x08}, {0x08, 0x08, 0x3E, 0x08, 0x08},
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00},
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00},
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10},
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03},
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00},
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14},
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E},
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22},
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01},
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00},
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40},
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E},
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46},
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F},
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63},
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00},
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04},
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78},
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F},
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x0C, 0x52, 0x52, 0x52, 0x3E},
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00},
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78},
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08},
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20},
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C},
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C},
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00},
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},
};

enum { GLYPH_W = 5, GLYPH_H = 7, GLYPH_ADVANCE = 6 };

/* ------------------------------------------------------------ pixels ---- */

static void blend_pixel(cf_image *img, int x, int y, const uint8_t rgb[3], float alpha)
{
    if (x < 0 || y < 0 || x >= img->width || y >= img->height)
        return;
    uint8_t *p = img->data + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
    for (int c = 0; c < 3; c++)
        p[c] = (uint8_t)lrintf((1.0f - alpha) * (float)p[c] + alpha * (float)rgb[c]);
}

static void fill_rect(cf_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3], float alpha)
{
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < img->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < img->width; x++)
            blend_pixel(img, x, y, rgb, alpha);
}

/* Outline of [x0, x1] x [y0, y1] (inclusive), `t` pixels thick, inside the box. */
static void outline_rect(cf_image *img, int x0, int y0, int x1, int y1, int t, const uint8_t rgb[3])
{
    fill_rect(img, x0, y0, x1 + 1, y0 + t, rgb, 1.0f);
    fill_rect(img, x0, y1 + 1 - t, x1 + 1, y1 + 1, rgb, 1.0f);
    fill_rect(img, x0, y0, x0 + t, y1 + 1, rgb, 1.0f);
    fill_rect(img, x1 + 1 - t, y0, x1 + 1, y1 + 1, rgb, 1.0f);
}

int cf_annotate_text_width(const char *text, int scale)
{
    size_t n = strlen(text);
    return n ? (int)(n * GLYPH_ADVANCE - 1) * scale : 0;
}

void cf_annotate_text(cf_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3])
{
    for (const unsigned char *c = (const unsigned char *)text; *c; c++, x += GLYPH_ADVANCE * scale) {
        const uint8_t *glyph = k_font[*c >= 0x20 && *c < 0x7F ? *c - 0x20 : '?' - 0x20];
        for (int col = 0; col < GLYPH_W; col++)
            for (int row = 0; row < GLYPH_H; row++)
                if (glyph[col] >> row & 1)
                    fill_rect(img, x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, rgb,
                              1.0f);
    }
}

/* ------------------------------------------------------------ colours and labels ---- */

static const uint8_t k_palette[][3] = {
    {230, 25, 75},  {60, 180, 75},  {0, 130, 200},  {245, 130, 48}, {145, 30, 180}, {70, 240, 240},
    {240, 50, 230}, {210, 245, 60}, {250, 190, 212}, {0, 128, 128}, {220, 190, 255}, {170, 110, 40},
};
enum { PALETTE_SIZE = sizeof k_palette / sizeof *k_palette };

/* One colour per label text, so the same class looks the same everywhere. */
static const uint8_t *label_colour(const char *label)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)label; *c; c++)
        h = (h ^ *c) * 16777619u;
    return k_palette[h % PALETTE_SIZE];
}

static const uint8_t *text_colour_on(const uint8_t bg[3])
{
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    return 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] > 150 ? black : white;
}

/* Glyph scale for an image: about 1/40 of its smaller side per line of text. */
static int text_scale(const cf_image *img)
{
    int side = img->width < img->height ? img->width : img->height;
    int s = side / 280 + 1;
    return s > 4 ? 4 : s;
}

/* "text" on a filled tag whose top-left corner is (x, y), kept inside the image. */
static void draw_tag(cf_image *img, int x, int y, const char *text, const uint8_t bg[3], int scale)
{
    int pad = scale + 1, w = cf_annotate_text_width(text, scale) + 2 * pad, h = GLYPH_H * scale + 2 * pad;
    if (x + w > img->width)
        x = img->width - w;
    if (y + h > img->height)
        y = img->height - h;
    x = x < 0 ? 0 : x;
    y = y < 0 ? 0 : y;
    fill_rect(img, x, y, x + w, y + h, bg, 0.85f);
    cf_annotate_text(img, x + pad, y + pad, text, scale, text_colour_on(bg));
}

static int tag_height(int scale) { return GLYPH_H * scale + 2 * (scale + 1); }

static void label_with_score(const cJSON *item, char *buf, size_t size)
{
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(item, "label");
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(item, "score");
    const char *l = cJSON_IsString(label) ? label->valuestring : "?";
    if (cJSON_IsNumber(score))
        snprintf(buf, size, "%s %.2f", l, score->valuedouble);
    else
        snprintf(buf, size, "%s", l);
}

/* ------------------------------------------------------------ object detection ---- */

static cf_status box_of(const cJSON *item, int v[4], cf_error *err)
{
    static const char *const keys[4] = {"xmin", "ymin", "xmax", "ymax"};
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(item, "box");
    for (int k = 0; k < 4; k++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(box, keys[k]);
        if (!cJSON_IsNumber(c) || fabs(c->valuedouble) > 1e7)
            return cf_fail(err, CF_ERR_FORMAT, "object-detection result: a detection has no numeric box.%s", keys[k]);
        v[k] = (int)c->valuedouble;
    }
    return CF_OK;
}

static int cmp_score_asc(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    double sx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "score"));
    double sy = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(y, "score"));
    return (sx > sy) - (sx < sy);
}

/* Items of a result list sorted by score, lowest first (so the best is drawn on top). */
static cf_status items_by_score(const cJSON *result, const char *task, const cJSON ***items, int *n, cf_error *err)
{
    if (!cJSON_IsArray(result))
        return cf_fail(err, CF_ERR_FORMAT, "%s result: expected a list (one image's output)", task);
    *n = cJSON_GetArraySize(result);
    *items = calloc(*n ? (size_t)*n : 1, sizeof **items);
    if (!*items)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    int i = 0;
    for (const cJSON *c = result->child; c; c = c->next) {
        if (!cJSON_IsObject(c)) {
            free(*items);
            return cf_fail(err, CF_ERR_FORMAT, "%s result: item %d is not an object (a list of images' outputs? "
                           "annotate takes one image)", task, i);
        }
        (*items)[i++] = c;
    }
    qsort(*items, (size_t)*n, sizeof **items, cmp_score_asc);
    return CF_OK;
}

static cf_status draw_detections(cf_image *img, const cJSON *result, cf_error *err)
{
    const cJSON **items;
    int n;
    CF_TRY(items_by_score(result, "object-detection", &items, &n, err));
    int scale = text_scale(img), thick = scale + 1;
    cf_status st = CF_OK;
    for (int i = 0; i < n && st == CF_OK; i++) {
        int b[4];
        if ((st = box_of(items[i], b, err)) != CF_OK)
            break;
        char text[160];
        label_with_score(items[i], text, sizeof text);
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(items[i], "label");
        const uint8_t *colour = label_colour(cJSON_IsString(label) ? label->valuestring : "");
        outline_rect(img, b[0], b[1], b[2], b[3], thick, colour);
        int above = b[1] - tag_height(scale);
        draw_tag(img, b[0], above >= 0 ? above : b[1] + thick, text, colour, scale);
    }
    free(items);
    return st;
}

/* ------------------------------------------------------------ segmentation ---- */

static cf_status load_result_image(const cJSON *v, const cf_image *like, const char *what, cf_image *out,
                                   cf_error *err)
{
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return cf_fail(err, CF_ERR_FORMAT, "%s is not a PNG (base64 or a file path)", what);
    if (cf_file_exists(v->valuestring)) {
        CF_TRY(cf_image_load(v->valuestring, NULL, out, err));
    } else {
        uint8_t *png = NULL;
        size_t size = 0;
        CF_TRY(cf_base64_decode(v->valuestring, &png, &size, err));
        cf_status st = cf_image_decode(png, size, what, NULL, out, err);
        free(png);
        CF_TRY(st);
    }
    if (out->width != like->width || out->height != like->height) {
        cf_status st = cf_fail(err, CF_ERR_SHAPE, "%s is %dx%d but the input image is %dx%d", what, out->width,
                               out->height, like->width, like->height);
        cf_image_free(out);
        return st;
    }
    return CF_OK;
}

/* Fill the mask's pixels; its centre of mass goes to (cx, cy), or -1 when it is empty. */
static void fill_mask(cf_image *img, const cf_image *mask, const uint8_t rgb[3], int *cx, int *cy)
{
    double sx = 0, sy = 0, count = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            if (mask->data[((size_t)y * (size_t)mask->width + (size_t)x) * (size_t)mask->channels] > 127) {
                blend_pixel(img, x, y, rgb, 0.5f);
                sx += x;
                sy += y;
                count++;
            }
    *cx = count ? (int)(sx / count) : -1;
    *cy = count ? (int)(sy / count) : -1;
}

static cf_status draw_masks(cf_image *img, const cJSON *result, cf_error *err)
{
    const cJSON **items;
    int n;
    CF_TRY(items_by_score(result, "image-segmentation", &items, &n, err));
    int *centre = calloc((size_t)(n ? n : 1) * 2, sizeof *centre);
    cf_status st = centre ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == CF_OK; i++) {
        cf_image mask = {0};
        char what[64];
        snprintf(what, sizeof what, "the mask of segment %d", i);
        if ((st = load_result_image(cJSON_GetObjectItemCaseSensitive(items[i], "mask"), img, what, &mask, err)))
            break;
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(items[i], "label");
        const uint8_t *colour = n <= PALETTE_SIZE ? k_palette[i] : label_colour(cJSON_GetStringValue(label) ?
                                                                                  label->valuestring : "");
        fill_mask(img, &mask, colour, &centre[2 * i], &centre[2 * i + 1]);
        cf_image_free(&mask);
    }
    int scale = text_scale(img);
    for (int i = 0; i < n && st == CF_OK; i++) {
        if (centre[2 * i] < 0)
            continue;
        char text[160];
        label_with_score(items[i], text, sizeof text);
        const cJSON *label = cJSON_GetObjectItemCaseSensitive(items[i], "label");
        const uint8_t *colour = n <= PALETTE_SIZE ? k_palette[i] : label_colour(cJSON_GetStringValue(label) ?
                                                                                  label->valuestring : "");
        draw_tag(img, centre[2 * i] - cf_annotate_text_width(text, scale) / 2, centre[2 * i + 1] - tag_height(scale) / 2,
                 text, colour, scale);
    }
    free(centre);
    free(items);
    return st;
}

/* ------------------------------------------------------------ depth ---- */

/* Google's "turbo" colour map, polynomial approximation; x in [0, 1]. */
static void turbo(float x, uint8_t rgb[3])
{
    static const double c[3][6] = {
        {0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943},
        {0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604},
        {0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973},
    };
    for (int k = 0; k < 3; k++) {
        double v = c[k][5];
        for (int i = 4; i >= 0; i--)
            v = v * x + c[k][i];
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        rgb[k] = (uint8_t)lrint(v * 255.0);
    }
}

/* The input on the left, the coloured depth map on the right. */
static cf_status draw_depth(const cf_image *input, const cJSON *result, cf_image *out, cf_error *err)
{
    if (!cJSON_IsObject(result))
        return cf_fail(err, CF_ERR_FORMAT, "depth-estimation result: expected an object with \"depth\" (one image's "
                       "output)");
    cf_image depth = {0};
    CF_TRY(load_result_image(cJSON_GetObjectItemCaseSensitive(result, "depth"), input, "the depth map", &depth, err));
    cf_status st = cf_image_alloc(out, input->width * 2, input->height, 3, err);
    for (int y = 0; st == CF_OK && y < input->height; y++) {
        uint8_t *row = out->data + (size_t)y * (size_t)out->width * 3;
        memcpy(row, input->data + (size_t)y * (size_t)input->width * 3, (size_t)input->width * 3);
        for (int x = 0; x < input->width; x++)
            turbo(depth.data[((size_t)y * (size_t)depth.width + (size_t)x) * 3] / 255.0f,
                  row + ((size_t)input->width + (size_t)x) * 3);
    }
    cf_image_free(&depth);
    if (st == CF_OK) { /* a legend: which end of the colour map is near */
        uint8_t near[3], far[3];
        turbo(0.0f, near);
        turbo(1.0f, far);
        int scale = text_scale(input), x = input->width + scale;
        draw_tag(out, x, scale, "near", near, scale);
        draw_tag(out, x + cf_annotate_text_width("near ", scale) + 2 * (scale + 1), scale, "far", far, scale);
    }
    return st;
}

/* ------------------------------------------------------------ entry points ---- */

static const char *canonical(const char *task)
{
    const cf_task *t = task ? cf_task_find(task) : NULL;
    return t ? t->name : "";
}

bool cf_annotate_supports(const char *task)
{
    const char *name = canonical(task);
    return !strcmp(name, "object-detection") || !strcmp(name, "image-segmentation") ||
           !strcmp(name, "depth-estimation");
}

cf_status cf_annotate(const char *task, const cf_image *input, const cJSON *result, cf_image *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!input || input->channels != 3 || !input->data)
        return cf_fail(err, CF_ERR_INVALID_ARG, "annotate: the input must be an RGB image");
    const char *name = canonical(task);
    if (!cf_annotate_supports(task))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "cannot draw results of task '%s' (object-detection, "
                       "image-segmentation and depth-estimation can be drawn)", task ? task : "(none)");
    if (!strcmp(name, "depth-estimation"))
        return draw_depth(input, result, out, err);
    CF_TRY(cf_image_alloc(out, input->width, input->height, 3, err));
    memcpy(out->data, input->data, (size_t)input->width * (size_t)input->height * 3);
    cf_status st = !strcmp(name, "object-detection") ? draw_detections(out, result, err) : draw_masks(out, result, err);
    if (st != CF_OK)
        cf_image_free(out);
    return st;
}
