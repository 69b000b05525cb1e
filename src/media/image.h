/* Images in and out: decode JPEG, PNG, BMP and GIF (first frame) from a file or from bytes, the
 * way transformers' load_image does it with PIL:
 *
 *     image = PIL.Image.open(f); image = PIL.ImageOps.exif_transpose(image); image.convert("RGB")
 *
 * so the EXIF orientation is applied, alpha is dropped (not composited), grayscale and palette
 * images become RGB, and 16-bit images follow PIL's conversions (16-bit grayscale opens as mode
 * "I" and convert("RGB") clips it to 0..255; 16-bit colour keeps the high byte). PNG, BMP and GIF
 * decode bit-identically to PIL; baseline JPEG differs from libjpeg-turbo by at most 2 levels.
 * PNG encoding (masks, depth maps) to a file or to memory. */
#ifndef CF_MEDIA_IMAGE_H
#define CF_MEDIA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* PIL's decompression-bomb limit: Image.open refuses more than 2 * MAX_IMAGE_PIXELS pixels. */
#define CF_IMAGE_DEFAULT_MAX_PIXELS ((int64_t)2 * 89478485)
/* Largest encoded file read from disk. */
#define CF_IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)

/* 8-bit interleaved pixels, row-major (HWC); channels 1 (L), 3 (RGB) or 4 (RGBA). */
typedef struct cf_image {
    int width;
    int height;
    int channels;
    uint8_t *data; /* width * height * channels bytes, owned */
} cf_image;

typedef struct cf_image_decode_options {
    int64_t max_pixels;  /* refuse larger images, checked from the header; <= 0: the default */
    bool exif_transpose; /* apply the EXIF orientation (load_image does) */
} cf_image_decode_options;

/* max_pixels = CF_IMAGE_DEFAULT_MAX_PIXELS, exif_transpose = true. */
cf_image_decode_options cf_image_decode_defaults(void);

/* Decode to RGB (channels = 3). `name` is used in messages only (may be NULL); opt may be NULL
 * for the defaults. Fails with CF_ERR_FORMAT for non-image, truncated or corrupt data,
 * CF_ERR_UNSUPPORTED for a valid but unsupported encoding, CF_ERR_NOMEM over the pixel limit. */
cf_status cf_image_decode(const void *data, size_t size, const char *name, const cf_image_decode_options *opt,
                          cf_image *out, cf_error *err);
cf_status cf_image_load(const char *path, const cf_image_decode_options *opt, cf_image *out, cf_error *err);

/* Zero-filled image. */
cf_status cf_image_alloc(cf_image *img, int width, int height, int channels, cf_error *err);
void cf_image_free(cf_image *img);

/* EXIF orientation of an encoded JPEG (first APP1 "Exif" segment) or PNG (eXIf chunk): the tag's
 * value, or 1 when there is none. Fails (CF_ERR_FORMAT) when the EXIF block does not start with a
 * TIFF header, as PIL's getexif() does; a damaged directory is ignored, as PIL does. */
cf_status cf_image_exif_orientation(const void *data, size_t size, int *orientation, cf_error *err);
/* Same for a TIFF-structured EXIF block ("II*\0" / "MM\0*", after any "Exif\0\0" prefix). */
cf_status cf_exif_orientation(const uint8_t *tiff, size_t size, int *orientation, cf_error *err);

/* Undo an EXIF orientation as PIL.ImageOps.exif_transpose does (2 = mirror, 3 = rotate 180,
 * 4 = flip, 5 = transpose, 6 = rotate 270, 7 = transverse, 8 = rotate 90). Orientation 1 or an
 * unknown value copies. */
cf_status cf_image_apply_orientation(const cf_image *in, int orientation, cf_image *out, cf_error *err);

/* PNG encoding of a 1-, 3- or 4-channel image (L, RGB, RGBA). */
cf_status cf_image_write_png(const char *path, const cf_image *img, cf_error *err);
/* *png is malloc'ed (free with free()). */
cf_status cf_image_encode_png(const cf_image *img, uint8_t **png, size_t *size, cf_error *err);

#endif
