/* PNG encoding with a private copy of stb_image_write. */
#include "media/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
/* A static copy leaves the unused parts of the library unused; its own style is not ours. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wsign-compare"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image_write.h>

static cf_status check_writable(const cf_image *img, cf_error *err)
{
    if (!img || !img->data || img->width <= 0 || img->height <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "cannot encode an empty image as PNG");
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return cf_fail(err, CF_ERR_INVALID_ARG, "PNG encoding takes 1 (L), 3 (RGB) or 4 (RGBA) channels, not %d",
                       img->channels);
    if ((size_t)img->width * (size_t)img->channels > 0x7fffffff / 2)
        return cf_fail(err, CF_ERR_INVALID_ARG, "image of width %d is too wide to encode as PNG", img->width);
    return CF_OK;
}

cf_status cf_image_encode_png(const cf_image *img, uint8_t **png, size_t *size, cf_error *err)
{
    *png = NULL;
    *size = 0;
    CF_TRY(check_writable(img, err));
    int len = 0;
    unsigned char *bytes =
        stbi_write_png_to_mem(img->data, img->width * img->channels, img->width, img->height, img->channels, &len);
    if (!bytes || len <= 0) {
        free(bytes);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory encoding a %dx%d PNG", img->width, img->height);
    }
    *png = bytes; /* stb_image_write allocates with malloc */
    *size = (size_t)len;
    return CF_OK;
}

cf_status cf_image_write_png(const char *path, const cf_image *img, cf_error *err)
{
    uint8_t *png;
    size_t size;
    CF_TRY(cf_image_encode_png(img, &png, &size, err));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(png);
        return cf_fail(err, CF_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
    }
    bool ok = fwrite(png, 1, size, f) == size;
    ok = fclose(f) == 0 && ok;
    free(png);
    if (!ok)
        return cf_fail(err, CF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return CF_OK;
}
