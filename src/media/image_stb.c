#include "media/image_stb.h"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
/* A static copy leaves the unused parts of the library unused; its own style is not ours. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-function"
#pragma clang diagnostic ignored "-Wsign-compare"
#pragma clang diagnostic ignored "-Wimplicit-fallthrough"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#endif
#include <stb_image.h>

/* stb_image keeps the reason of the last failure even across successful calls (its format
 * probes fail on the way); start each call clean so a reason always belongs to this call. */
static void forget_failure(void) { stbi__g_failure_reason = NULL; }

bool cf_stb_info(const uint8_t *data, int size, int *width, int *height, int *channels)
{
    forget_failure();
    return stbi_info_from_memory(data, size, width, height, channels) != 0;
}

bool cf_stb_is_16bit(const uint8_t *data, int size) { return stbi_is_16_bit_from_memory(data, size) != 0; }

uint8_t *cf_stb_load8(const uint8_t *data, int size, int *width, int *height, int channels)
{
    int stored;
    forget_failure();
    return stbi_load_from_memory(data, size, width, height, &stored, channels);
}

uint16_t *cf_stb_load16(const uint8_t *data, int size, int *width, int *height, int channels)
{
    int stored;
    forget_failure();
    return stbi_load_16_from_memory(data, size, width, height, &stored, channels);
}

const char *cf_stb_failure(void)
{
    const char *why = stbi_failure_reason();
    return why && *why ? why : "the decoder stopped on invalid data";
}
