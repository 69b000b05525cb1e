/* Decoding (stb_image, limited to the four formats we accept), then PIL's conversion to RGB
 * and its EXIF transpose. */
#include "media/image.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "media/image_container.h"
#include "media/image_stb.h"

cf_image_decode_options cf_image_decode_defaults(void)
{
    return (cf_image_decode_options){.max_pixels = CF_IMAGE_DEFAULT_MAX_PIXELS, .exif_transpose = true};
}

static cf_status stb_failure(const char *name, const char *format, cf_error *err)
{
    return cf_fail(err, CF_ERR_FORMAT, "%s: corrupt or unsupported %s data (%s)", name, format, cf_stb_failure());
}

/* A 16-bit grayscale PNG opens in PIL as mode "I" and convert("RGB") clips it to 0..255 (it does
 * not scale). Every other 16-bit PNG is read keeping the high byte, as stb_image does too. */
static bool is_png_gray16(cf_image_format f, const uint8_t *d, size_t n)
{
    return f == CF_IMAGE_FORMAT_PNG && cf_stb_is_16bit(d, (int)n) && cf_png_color_type(d, n) == 0;
}

static cf_status decode_png_gray16(const uint8_t *d, size_t n, const char *name, cf_image *out, cf_error *err)
{
    int w, h;
    uint16_t *p = cf_stb_load16(d, (int)n, &w, &h, 3);
    if (!p)
        return stb_failure(name, "PNG", err);
    cf_status st = cf_image_alloc(out, w, h, 3, err);
    if (st == CF_OK)
        for (size_t i = 0, count = (size_t)w * (size_t)h * 3; i < count; i++)
            out->data[i] = p[i] > 255 ? 255 : (uint8_t)p[i];
    free(p);
    return st;
}

/* stb_image's conversion to 3 channels is convert("RGB"): gray replicated, alpha dropped. */
static cf_status decode_rgb(const uint8_t *d, size_t n, cf_image_format f, const char *name, cf_image *out,
                            cf_error *err)
{
    int w, h;
    uint8_t *p = cf_stb_load8(d, (int)n, &w, &h, 3);
    if (!p)
        return stb_failure(name, cf_image_format_name(f), err);
    *out = (cf_image){.width = w, .height = h, .channels = 3, .data = p}; /* stb allocates with malloc */
    return CF_OK;
}

static cf_status check_format(cf_image_format f, const uint8_t *d, size_t n, const char *name, cf_error *err)
{
    switch (f) {
    case CF_IMAGE_FORMAT_JPEG:
    case CF_IMAGE_FORMAT_PNG:
    case CF_IMAGE_FORMAT_GIF:
    case CF_IMAGE_FORMAT_BMP: return CF_OK;
    case CF_IMAGE_FORMAT_WEBP:
    case CF_IMAGE_FORMAT_TIFF:
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s is a %s image; supported formats are JPEG, PNG, BMP and GIF", name,
                       cf_image_format_name(f));
    default: {
        uint8_t b[4] = {0};
        memcpy(b, d, n < 4 ? n : 4);
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s is not a JPEG, PNG, BMP or GIF image (%zu bytes starting %02x %02x %02x %02x)", name, n,
                       b[0], b[1], b[2], b[3]);
    }
    }
}

static cf_status check_dimensions(cf_image_format f, const uint8_t *d, size_t n, const char *name, int64_t max_pixels,
                                  cf_error *err)
{
    int64_t w, h;
    if (!cf_image_declared_size(f, d, n, &w, &h))
        return cf_fail(err, CF_ERR_FORMAT, "%s: truncated or corrupt %s header: no valid width and height "
                       "(found %" PRId64 "x%" PRId64 ")", name, cf_image_format_name(f), w, h);
    if (w > max_pixels / h) /* w * h > max_pixels, without overflow */
        return cf_fail(err, CF_ERR_NOMEM,
                       "%s: %s declares %" PRId64 "x%" PRId64 " = %.0f pixels, over the limit of %" PRId64
                       " (decompression-bomb guard; raise max_pixels to accept it)",
                       name, cf_image_format_name(f), w, h, (double)w * (double)h, max_pixels);
    return CF_OK;
}

static cf_status decode_checked(const uint8_t *d, size_t n, const char *name, const cf_image_decode_options *opt,
                                cf_image *out, cf_error *err)
{
    if (!d || n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s is empty (0 bytes), not an image", name);
    if (n > INT_MAX)
        return cf_fail(err, CF_ERR_NOMEM, "%s: %zu bytes is too large to decode (at most %d)", name, n, INT_MAX);
    cf_image_format f = cf_image_sniff(d, n);
    CF_TRY(check_format(f, d, n, name, err));
    CF_TRY(check_dimensions(f, d, n, name, opt->max_pixels, err));
    CF_TRY(cf_image_check_complete(f, d, n, name, err)); /* also screens what stb_image 2.27 mishandles */
    int sw, sh, sc;
    if (!cf_stb_info(d, (int)n, &sw, &sh, &sc))
        return cf_fail(err, CF_ERR_FORMAT, "%s: truncated or corrupt %s header (%s)", name, cf_image_format_name(f),
                       cf_stb_failure());
    int orientation = 1;
    if (opt->exif_transpose && cf_image_exif_orientation(d, n, &orientation, err) != CF_OK)
        return cf_error_prefix(err, "%s: ", name);

    cf_image rgb = {0};
    if (is_png_gray16(f, d, n))
        CF_TRY(decode_png_gray16(d, n, name, &rgb, err));
    else
        CF_TRY(decode_rgb(d, n, f, name, &rgb, err));
    if (orientation == 1) {
        *out = rgb;
        return CF_OK;
    }
    cf_status st = cf_image_apply_orientation(&rgb, orientation, out, err);
    cf_image_free(&rgb);
    return st;
}

cf_status cf_image_decode(const void *data, size_t size, const char *name, const cf_image_decode_options *opt,
                          cf_image *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    cf_image_decode_options o = opt ? *opt : cf_image_decode_defaults();
    if (o.max_pixels <= 0)
        o.max_pixels = CF_IMAGE_DEFAULT_MAX_PIXELS;
    return decode_checked(data, size, name ? name : "image", &o, out, err);
}

cf_status cf_image_load(const char *path, const cf_image_decode_options *opt, cf_image *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    char *bytes = NULL;
    size_t size = 0;
    CF_TRY(cf_read_file(path, CF_IMAGE_MAX_FILE_BYTES, &bytes, &size, err));
    cf_status st = cf_image_decode(bytes, size, path, opt, out, err);
    free(bytes);
    return st;
}
