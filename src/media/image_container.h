/* Bounds-checked walkers over the containers of encoded images (JPEG markers, PNG chunks, GIF
 * blocks, BMP headers): recognise the format, find the EXIF block, and catch truncation that the
 * pixel decoder would silently pad with zeros (PIL refuses truncated files). Internal to media. */
#ifndef CF_MEDIA_IMAGE_CONTAINER_H
#define CF_MEDIA_IMAGE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum cf_image_format {
    CF_IMAGE_FORMAT_UNKNOWN = 0,
    CF_IMAGE_FORMAT_JPEG,
    CF_IMAGE_FORMAT_PNG,
    CF_IMAGE_FORMAT_GIF,
    CF_IMAGE_FORMAT_BMP,
    CF_IMAGE_FORMAT_WEBP, /* recognised only to say it is not supported */
    CF_IMAGE_FORMAT_TIFF  /* same */
} cf_image_format;

cf_image_format cf_image_sniff(const uint8_t *data, size_t size);
const char *cf_image_format_name(cf_image_format format);

/* Width and height the header declares (before any pixel data is read); false when unreadable. */
bool cf_image_declared_size(cf_image_format format, const uint8_t *data, size_t size, int64_t *width,
                            int64_t *height);

/* CF_ERR_FORMAT naming `name` when the file ends before its first image is complete
 * (JPEG without end-of-image marker, GIF frame cut short, BMP pixel array cut short). */
cf_status cf_image_check_complete(cf_image_format format, const uint8_t *data, size_t size, const char *name,
                                  cf_error *err);

/* The raw EXIF payload as PIL stores it in info["exif"] (JPEG: APP1 body starting "Exif\0";
 * PNG: the eXIf chunk), or NULL/0 when there is none. */
void cf_image_find_exif(cf_image_format format, const uint8_t *data, size_t size, const uint8_t **exif,
                        size_t *exif_size);

/* PNG IHDR colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA), -1 if unreadable. */
int cf_png_color_type(const uint8_t *data, size_t size);

#endif
