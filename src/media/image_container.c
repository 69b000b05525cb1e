#include "media/image_container.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "media/image.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

static const uint8_t PNG_SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

cf_image_format cf_image_sniff(const uint8_t *d, size_t n)
{
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
        return CF_IMAGE_FORMAT_JPEG;
    if (n >= 8 && memcmp(d, PNG_SIGNATURE, 8) == 0)
        return CF_IMAGE_FORMAT_PNG;
    if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
        return CF_IMAGE_FORMAT_GIF;
    if (n >= 2 && d[0] == 'B' && d[1] == 'M')
        return CF_IMAGE_FORMAT_BMP;
    if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
        return CF_IMAGE_FORMAT_WEBP;
    if (n >= 4 && (memcmp(d, "II*\0", 4) == 0 || memcmp(d, "MM\0*", 4) == 0))
        return CF_IMAGE_FORMAT_TIFF;
    return CF_IMAGE_FORMAT_UNKNOWN;
}

const char *cf_image_format_name(cf_image_format f)
{
    switch (f) {
    case CF_IMAGE_FORMAT_JPEG: return "JPEG";
    case CF_IMAGE_FORMAT_PNG: return "PNG";
    case CF_IMAGE_FORMAT_GIF: return "GIF";
    case CF_IMAGE_FORMAT_BMP: return "BMP";
    case CF_IMAGE_FORMAT_WEBP: return "WebP";
    case CF_IMAGE_FORMAT_TIFF: return "TIFF";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------------------------ JPEG ---- */

typedef struct jpeg_walk {
    const uint8_t *exif; /* first APP1 whose body starts "Exif\0" (what PIL keeps) */
    size_t exif_size;
    bool has_scan;       /* reached a start-of-scan marker */
    bool has_eoi;        /* an end-of-image marker follows the scan data */
    uint32_t width, height; /* from the first start-of-frame segment; 0 when none */
    int bad_huffman;        /* first jpeg_bad_huffman() verdict that is not 0 */
} jpeg_walk;

/* A DHT segment holds whole tables of: class/id byte, 16 code-length counts, then that many
 * symbols (at most 256: the decoder's tables have no room for more, and it reads as many tables
 * as the segment length leaves room for, past the segment if the counts say so). Returns the
 * offending count, -1 when the segment is not a whole number of tables, 0 when valid. */
static int jpeg_bad_huffman(const uint8_t *body, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        if (n - pos < 17)
            return -1;
        int count = 0;
        for (int i = 1; i <= 16; i++)
            count += body[pos + (size_t)i];
        if (count > 256)
            return count;
        pos += 17 + (size_t)count;
    }
    return pos == n ? 0 : -1;
}

/* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
static bool jpeg_is_sof(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

/* Markers without a length field: TEM, RSTn, SOI, EOI. */
static bool jpeg_standalone(uint8_t m) { return m == 0x01 || (m >= 0xD0 && m <= 0xD9); }

/* Position of the marker that ends entropy-coded data (0xFF followed by anything but a stuffed
 * zero, a restart marker or another fill byte), or n. */
static size_t jpeg_skip_entropy(const uint8_t *d, size_t pos, size_t n)
{
    for (; pos + 1 < n; pos++) {
        uint8_t next = d[pos + 1];
        if (d[pos] == 0xFF && next != 0x00 && next != 0xFF && !(next >= 0xD0 && next <= 0xD7))
            return pos;
    }
    return n;
}

static jpeg_walk jpeg_scan_markers(const uint8_t *d, size_t n)
{
    jpeg_walk w = {0};
    size_t pos = 2; /* after SOI */
    while (pos < n) {
        if (d[pos] != 0xFF) { /* stray bytes between segments: decoders skip them */
            pos++;
            continue;
        }
        while (pos < n && d[pos] == 0xFF)
            pos++;
        if (pos >= n)
            break;
        uint8_t marker = d[pos++];
        if (marker == 0x00)
            continue;
        if (marker == 0xD9) {
            w.has_eoi = w.has_scan;
            return w;
        }
        if (jpeg_standalone(marker))
            continue;
        if (n - pos < 2)
            break;
        size_t len = be16(d + pos);
        if (len < 2 || len > n - pos)
            break;
        const uint8_t *body = d + pos + 2;
        size_t body_size = len - 2;
        if (marker == 0xE1 && !w.exif && body_size >= 5 && memcmp(body, "Exif\0", 5) == 0) {
            w.exif = body;
            w.exif_size = body_size;
        }
        if (marker == 0xC4 && !w.bad_huffman)
            w.bad_huffman = jpeg_bad_huffman(body, body_size);
        if (jpeg_is_sof(marker) && !w.width && body_size >= 5) {
            w.height = be16(body + 1);
            w.width = be16(body + 3);
        }
        pos += len;
        if (marker == 0xDA) { /* scans continue to the next marker; progressive files have several */
            w.has_scan = true;
            pos = jpeg_skip_entropy(d, pos, n);
        }
    }
    return w;
}

/* ------------------------------------------------------------------------------- PNG ---- */

/* Calls `visit` for each chunk while the chunk headers lie inside the data; stops when it returns
 * false. Returns the offset of a chunk (before IEND) whose declared length runs past the data, or 0. */
typedef bool (*png_visit)(const uint8_t *type, const uint8_t *body, size_t body_size, void *ctx);

static size_t png_walk_chunks(const uint8_t *d, size_t n, png_visit visit, void *ctx)
{
    size_t pos = 8;
    while (n - pos >= 8) {
        size_t len = be32(d + pos);
        const uint8_t *type = d + pos + 4;
        if (len > n - pos - 8)
            return pos;
        if (!visit(type, d + pos + 8, len, ctx))
            return 0;
        if (memcmp(type, "IEND", 4) == 0 || n - pos - 8 - len < 4)
            return 0;
        pos += 8 + len + 4; /* + CRC */
    }
    return 0;
}

static bool png_visit_all(const uint8_t *type, const uint8_t *body, size_t size, void *ctx)
{
    (void)type, (void)body, (void)size, (void)ctx;
    return true;
}

typedef struct png_exif {
    const uint8_t *body;
    size_t size;
} png_exif;

static bool png_visit_exif(const uint8_t *type, const uint8_t *body, size_t size, void *ctx)
{
    png_exif *e = ctx;
    if (memcmp(type, "eXIf", 4) != 0)
        return true;
    e->body = body;
    e->size = size;
    return false;
}

/* stb_image 2.27 does pointer arithmetic on a null buffer when the first IDAT chunk is empty. */
static bool png_visit_empty_first_idat(const uint8_t *type, const uint8_t *body, size_t size, void *ctx)
{
    (void)body;
    if (memcmp(type, "IDAT", 4) != 0)
        return true;
    *(bool *)ctx = size == 0;
    return false;
}

int cf_png_color_type(const uint8_t *d, size_t n)
{
    /* signature, IHDR length and type, width, height, bit depth, colour type */
    if (n < 26 || cf_image_sniff(d, n) != CF_IMAGE_FORMAT_PNG || memcmp(d + 12, "IHDR", 4) != 0)
        return -1;
    return d[25];
}

/* ------------------------------------------------------------------------------- GIF ---- */

/* Skips a chain of data sub-blocks (length byte + bytes, ended by a zero length); returns false
 * when the data ends first. */
static bool gif_skip_sub_blocks(const uint8_t *d, size_t n, size_t *pos)
{
    while (*pos < n) {
        size_t len = d[(*pos)++];
        if (len == 0)
            return true;
        if (len > n - *pos)
            return false;
        *pos += len;
    }
    return false;
}

static size_t gif_color_table_size(uint8_t flags) { return (flags & 0x80) ? 3u * (2u << (flags & 7)) : 0; }

static cf_status gif_check_first_frame(const uint8_t *d, size_t n, const char *name, cf_error *err)
{
    if (n < 13)
        return cf_fail(err, CF_ERR_FORMAT, "%s: truncated GIF: %zu bytes, the header alone needs 13", name, n);
    size_t pos = 13 + gif_color_table_size(d[10]);
    while (pos < n) {
        uint8_t block = d[pos++];
        if (block == 0x21) { /* extension: label, then sub-blocks */
            pos++;
            if (!gif_skip_sub_blocks(d, n, &pos))
                break;
        } else if (block == 0x2C) { /* image descriptor, optional local colour table, LZW data */
            if (n - pos < 10)
                break;
            pos += 9 + gif_color_table_size(d[pos + 8]);
            if (pos >= n)
                break;
            pos++; /* LZW minimum code size */
            if (!gif_skip_sub_blocks(d, n, &pos))
                break;
            return CF_OK;
        } else if (block == 0x3B) {
            return cf_fail(err, CF_ERR_FORMAT, "%s: GIF holds no image (trailer before the first frame)", name);
        } else {
            return cf_fail(err, CF_ERR_FORMAT, "%s: corrupt GIF: unknown block type 0x%02x at byte %zu", name, block,
                           pos - 1);
        }
    }
    return cf_fail(err, CF_ERR_FORMAT, "%s: truncated GIF: the data ends (%zu bytes) before the first frame is complete",
                   name, n);
}

/* ------------------------------------------------------------------------------- BMP ---- */

/* Uncompressed BMPs (BI_RGB, BI_BITFIELDS) must hold the whole pixel array. */
static cf_status bmp_check_pixels(const uint8_t *d, size_t n, const char *name, cf_error *err)
{
    if (n < 26)
        return cf_fail(err, CF_ERR_FORMAT, "%s: truncated BMP: %zu bytes, shorter than its headers", name, n);
    uint64_t offset = le32(d + 10);
    uint32_t header = le32(d + 14);
    int64_t width, height;
    uint32_t bpp, compression = 0;
    if (header == 12) {
        width = (int16_t)le16(d + 18);
        height = (int16_t)le16(d + 20);
        bpp = le16(d + 24);
    } else {
        if (n < 34)
            return cf_fail(err, CF_ERR_FORMAT, "%s: truncated BMP: %zu bytes, shorter than its headers", name, n);
        width = (int32_t)le32(d + 18);
        height = (int32_t)le32(d + 22);
        bpp = le16(d + 28);
        compression = le32(d + 30);
    }
    if ((compression != 0 && compression != 3) || width <= 0 || bpp == 0 || bpp > 32)
        return CF_OK; /* the decoder judges these */
    if (height < 0)
        height = -height;
    uint64_t row = ((uint64_t)bpp * (uint64_t)width + 31) / 32 * 4;
    uint64_t need = offset + row * (uint64_t)height;
    if (need > n)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: truncated BMP: %" PRId64 "x%" PRId64 " at %u bits needs %llu bytes, the file has %zu",
                       name, width, height, bpp, (unsigned long long)need, n);
    return CF_OK;
}

/* ------------------------------------------------------------------------------------ ---- */

cf_status cf_image_check_complete(cf_image_format f, const uint8_t *d, size_t n, const char *name, cf_error *err)
{
    switch (f) {
    case CF_IMAGE_FORMAT_JPEG: {
        jpeg_walk w = jpeg_scan_markers(d, n);
        if (w.bad_huffman > 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: corrupt JPEG: a Huffman table declares %d codes (at most 256)",
                           name, w.bad_huffman);
        if (w.bad_huffman < 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: corrupt JPEG: a Huffman table segment's length does not match "
                           "its tables", name);
        if (!w.has_scan)
            return cf_fail(err, CF_ERR_FORMAT, "%s: truncated or corrupt JPEG: no image data (start-of-scan marker) "
                           "in its %zu bytes", name, n);
        if (!w.has_eoi)
            return cf_fail(err, CF_ERR_FORMAT, "%s: truncated JPEG: the image data is not followed by an "
                           "end-of-image marker (%zu bytes)", name, n);
        return CF_OK;
    }
    case CF_IMAGE_FORMAT_PNG: {
        bool empty_first_idat = false;
        png_walk_chunks(d, n, png_visit_empty_first_idat, &empty_first_idat);
        if (empty_first_idat)
            return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: PNG whose first IDAT chunk is empty is not supported", name);
        /* stb_image grows its IDAT buffer to a chunk's declared length before reading it: a forged
         * length would make it allocate up to 4 GB for a file of a few bytes. */
        size_t at = png_walk_chunks(d, n, png_visit_all, NULL);
        if (at) {
            char type[5];
            for (int i = 0; i < 4; i++)
                type[i] = d[at + 4 + i] >= 0x20 && d[at + 4 + i] < 0x7f ? (char)d[at + 4 + i] : '?';
            type[4] = '\0';
            return cf_fail(err, CF_ERR_FORMAT, "%s: truncated or corrupt PNG: chunk '%s' at byte %zu declares %" PRIu32
                           " bytes, only %zu follow", name, type, at, be32(d + at), n - at - 8);
        }
        return CF_OK;
    }
    case CF_IMAGE_FORMAT_GIF: return gif_check_first_frame(d, n, name, err);
    case CF_IMAGE_FORMAT_BMP: return bmp_check_pixels(d, n, name, err);
    default: return CF_OK;
    }
}

void cf_image_find_exif(cf_image_format f, const uint8_t *d, size_t n, const uint8_t **exif, size_t *exif_size)
{
    *exif = NULL;
    *exif_size = 0;
    if (f == CF_IMAGE_FORMAT_JPEG) {
        jpeg_walk w = jpeg_scan_markers(d, n);
        *exif = w.exif;
        *exif_size = w.exif_size;
    } else if (f == CF_IMAGE_FORMAT_PNG) {
        png_exif e = {0};
        png_walk_chunks(d, n, png_visit_exif, &e);
        *exif = e.body;
        *exif_size = e.size;
    }
}

bool cf_image_declared_size(cf_image_format f, const uint8_t *d, size_t n, int64_t *width, int64_t *height)
{
    *width = *height = 0;
    switch (f) {
    case CF_IMAGE_FORMAT_JPEG: {
        jpeg_walk w = jpeg_scan_markers(d, n);
        *width = w.width;
        *height = w.height;
        break;
    }
    case CF_IMAGE_FORMAT_PNG:
        if (n >= 24 && memcmp(d + 12, "IHDR", 4) == 0) {
            *width = be32(d + 16);
            *height = be32(d + 20);
        }
        break;
    case CF_IMAGE_FORMAT_GIF:
        if (n >= 10) {
            *width = le16(d + 6);
            *height = le16(d + 8);
        }
        break;
    case CF_IMAGE_FORMAT_BMP:
        if (n >= 26 && le32(d + 14) == 12) {
            *width = (int16_t)le16(d + 18);
            *height = (int16_t)le16(d + 20);
        } else if (n >= 26) {
            *width = (int32_t)le32(d + 18);
            *height = (int32_t)le32(d + 22);
        }
        if (*height < 0)
            *height = -*height;
        break;
    default: break;
    }
    return *width > 0 && *height > 0;
}

/* ------------------------------------------------------------------------------ EXIF ---- */

typedef struct tiff_reader {
    const uint8_t *d;
    size_t n;
    bool big_endian;
} tiff_reader;

static uint32_t tiff16(const tiff_reader *t, size_t at) { return t->big_endian ? be16(t->d + at) : le16(t->d + at); }
static uint32_t tiff32(const tiff_reader *t, size_t at) { return t->big_endian ? be32(t->d + at) : le32(t->d + at); }

enum { TIFF_BYTE = 1, TIFF_SHORT = 3, TIFF_LONG = 4, EXIF_TAG_ORIENTATION = 0x0112 };

/* Value of a single-valued integer IFD entry at `at`; false for other types or counts (PIL then
 * holds a tuple, which exif_transpose ignores). */
static bool tiff_entry_int(const tiff_reader *t, size_t at, uint32_t *value)
{
    uint32_t type = tiff16(t, at + 2), count = tiff32(t, at + 4);
    if (count != 1)
        return false;
    switch (type) {
    case TIFF_BYTE: *value = t->d[at + 8]; return true;
    case TIFF_SHORT: *value = tiff16(t, at + 8); return true;
    case TIFF_LONG: *value = tiff32(t, at + 8); return true;
    default: return false;
    }
}

cf_status cf_exif_orientation(const uint8_t *d, size_t n, int *orientation, cf_error *err)
{
    *orientation = 1;
    if (n >= 6 && memcmp(d, "Exif\0\0", 6) == 0) {
        d += 6;
        n -= 6;
    }
    if (n == 0)
        return CF_OK;
    /* PIL accepts the two standard TIFF byte orders and two swapped variants seen in the wild. */
    static const char *const heads[] = {"II*\0", "MM\0*", "II\0*", "MM*\0"};
    int head = -1;
    for (int i = 0; i < 4 && n >= 8; i++)
        if (memcmp(d, heads[i], 4) == 0)
            head = i;
    if (head < 0) {
        uint8_t b[4] = {0};
        memcpy(b, d, n < 4 ? n : 4);
        return cf_fail(err, CF_ERR_FORMAT,
                       "corrupt EXIF: the block (%zu bytes) does not start with a TIFF header "
                       "(bytes %02x %02x %02x %02x)", n, b[0], b[1], b[2], b[3]);
    }
    tiff_reader t = {d, n, d[0] == 'M'};
    size_t ifd = tiff32(&t, 4);
    if (ifd > n || n - ifd < 2)
        return CF_OK; /* PIL warns and reads no tags */
    size_t entries = tiff16(&t, ifd);
    for (size_t i = 0; i < entries; i++) {
        size_t at = ifd + 2 + 12 * i;
        if (at > n || n - at < 12)
            break;
        uint32_t value;
        if (tiff16(&t, at) == EXIF_TAG_ORIENTATION && tiff_entry_int(&t, at, &value))
            *orientation = value >= 1 && value <= 8 ? (int)value : 1; /* the last entry wins, as in PIL */
    }
    return CF_OK;
}

cf_status cf_image_exif_orientation(const void *data, size_t size, int *orientation, cf_error *err)
{
    const uint8_t *exif;
    size_t exif_size;
    *orientation = 1;
    if (!data)
        return CF_OK;
    cf_image_find_exif(cf_image_sniff(data, size), data, size, &exif, &exif_size);
    return exif ? cf_exif_orientation(exif, exif_size, orientation, err) : CF_OK;
}
