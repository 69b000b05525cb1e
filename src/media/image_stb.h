/* The private copy of stb_image (JPEG, PNG, BMP, GIF only), behind a few functions so that the
 * library's static definitions stay in one translation unit. Internal to media. */
#ifndef CF_MEDIA_IMAGE_STB_H
#define CF_MEDIA_IMAGE_STB_H

#include <stdbool.h>
#include <stdint.h>

/* Header check: true when stb_image can read the header; width/height/channels as stored. */
bool cf_stb_info(const uint8_t *data, int size, int *width, int *height, int *channels);
bool cf_stb_is_16bit(const uint8_t *data, int size);
/* Pixels converted to `channels` (stb_image's conversion: gray replicated, alpha dropped or set
 * opaque); malloc'ed, free with free(). NULL on failure, see cf_stb_failure(). */
uint8_t *cf_stb_load8(const uint8_t *data, int size, int *width, int *height, int channels);
uint16_t *cf_stb_load16(const uint8_t *data, int size, int *width, int *height, int channels);
/* Why the last call on this thread failed. */
const char *cf_stb_failure(void);

#endif
