#include "media/image.h"

#include <stdlib.h>
#include <string.h>

cf_status cf_image_alloc(cf_image *img, int width, int height, int channels, cf_error *err)
{
    memset(img, 0, sizeof *img);
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return cf_fail(err, CF_ERR_INVALID_ARG, "image of %dx%d with %d channels: sizes must be positive and "
                       "channels 1..4", width, height, channels);
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    img->data = calloc(bytes, 1);
    if (!img->data)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a %dx%d image (%zu bytes)", width, height, bytes);
    img->width = width;
    img->height = height;
    img->channels = channels;
    return CF_OK;
}

void cf_image_free(cf_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* Where output pixel (x, y) of an image transposed by `orientation` comes from in the stored
 * w x h image. PIL names: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
 * 6 ROTATE_270 (clockwise), 7 TRANSVERSE, 8 ROTATE_90 (counter-clockwise). */
static void orientation_source(int orientation, int w, int h, int x, int y, int *sx, int *sy)
{
    switch (orientation) {
    case 2: *sx = w - 1 - x; *sy = y; break;
    case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
    case 4: *sx = x; *sy = h - 1 - y; break;
    case 5: *sx = y; *sy = x; break;
    case 6: *sx = y; *sy = h - 1 - x; break;
    case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
    case 8: *sx = w - 1 - y; *sy = x; break;
    default: *sx = x; *sy = y; break;
    }
}

cf_status cf_image_apply_orientation(const cf_image *in, int orientation, cf_image *out, cf_error *err)
{
    bool swaps = orientation >= 5 && orientation <= 8;
    int ow = swaps ? in->height : in->width, oh = swaps ? in->width : in->height;
    CF_TRY(cf_image_alloc(out, ow, oh, in->channels, err));
    size_t c = (size_t)in->channels;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            orientation_source(orientation, in->width, in->height, x, y, &sx, &sy);
            memcpy(out->data + ((size_t)y * (size_t)ow + (size_t)x) * c,
                   in->data + ((size_t)sy * (size_t)in->width + (size_t)sx) * c, c);
        }
    return CF_OK;
}
