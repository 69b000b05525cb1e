/* Image decoding as transformers' load_image does it with PIL (open, exif_transpose,
 * convert("RGB")), PNG encoding, and clear errors for the bad-image corpus.
 *
 * Tolerances: PNG, BMP and GIF decode exactly (0). JPEG may differ from PIL/libjpeg-turbo by at
 * most 2 levels per sample (the measured stb_image tolerance in image/media/SOURCE.md). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "media/image.h"

#define JPEG_TOLERANCE 2

static void media_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/image/media/%s", cf_test_fixtures(), name);
}

static void data_path(const char *rel, char *out, size_t size) { snprintf(out, size, "%s/%s", cf_test_data(), rel); }

static cf_image load_ok(const char *path)
{
    cf_image img;
    cf_error err = {0};
    cr_assert_eq(cf_image_load(path, NULL, &img, &err), CF_OK, "%s", err.message);
    cr_assert_eq(img.channels, 3, "%s: decoded to %d channels", path, img.channels);
    return img;
}

static cf_image load_media(const char *name)
{
    char path[4096];
    media_path(name, path, sizeof path);
    return load_ok(path);
}

static cf_image decode_ok(const uint8_t *bytes, size_t n, const cf_image_decode_options *opt)
{
    cf_image img;
    cf_error err = {0};
    cr_assert_eq(cf_image_decode(bytes, n, "test bytes", opt, &img, &err), CF_OK, "%s", err.message);
    return img;
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    char *bytes = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_read_file(path, (size_t)1 << 28, &bytes, n, &err), CF_OK, "%s", err.message);
    return (uint8_t *)bytes;
}

static int max_diff(const cf_image *a, const cf_image *b)
{
    cr_assert_eq(a->width, b->width);
    cr_assert_eq(a->height, b->height);
    cr_assert_eq(a->channels, b->channels);
    int worst = 0;
    for (size_t i = 0; i < (size_t)a->width * a->height * a->channels; i++) {
        int d = abs((int)a->data[i] - (int)b->data[i]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

static const uint8_t *pixel(const cf_image *img, int x, int y)
{
    return img->data + ((size_t)y * img->width + x) * img->channels;
}

/* ------------------------------------------------------------------ the shared media ---- */

Test(image_decode, media_sizes_and_modes)
{
    cf_image chelsea = load_media("chelsea.png"), camera = load_media("camera.png");
    cr_expect_eq(chelsea.width, 451);
    cr_expect_eq(chelsea.height, 300);
    cr_expect_eq(camera.width, 512);
    cr_expect_eq(camera.height, 512);
    for (size_t i = 0; i < (size_t)camera.width * camera.height; i++) /* L replicated */
        cr_assert(camera.data[3 * i] == camera.data[3 * i + 1] && camera.data[3 * i] == camera.data[3 * i + 2]);
    cf_image_free(&chelsea);
    cf_image_free(&camera);
}

Test(image_decode, rgba_alpha_is_dropped_not_composited)
{
    cf_image rgb = load_media("chelsea.png"), rgba = load_media("chelsea_rgba.png");
    cr_expect_eq(max_diff(&rgb, &rgba), 0);
    cf_image_free(&rgb);
    cf_image_free(&rgba);
}

/* camera16_128.png = camera.png[::4, ::4] * 257 as 16-bit gray: PIL's mode "I" clips to 0..255. */
Test(image_decode, gray16_is_clipped_like_pil_mode_I)
{
    cf_image g16 = load_media("camera16_128.png"), camera = load_media("camera.png");
    cr_assert_eq(g16.width, 128);
    cr_assert_eq(g16.height, 128);
    for (int y = 0; y < 128; y++)
        for (int x = 0; x < 128; x++) {
            unsigned v = pixel(&camera, 4 * x, 4 * y)[0] * 257u;
            uint8_t want = v > 255 ? 255 : (uint8_t)v;
            cr_assert_eq(pixel(&g16, x, y)[0], want, "(%d,%d)", x, y);
        }
    cf_image_free(&g16);
    cf_image_free(&camera);
}

/* The crops SOURCE.md documents: rocket_portrait = rocket.png box (220,0,420,427),
 * chelsea_small = chelsea.png box (150,60,247,121). */
static void expect_crop(const char *whole, const char *part, int left, int top)
{
    cf_image a = load_media(whole), b = load_media(part);
    for (int y = 0; y < b.height; y++)
        cr_assert(memcmp(pixel(&b, 0, y), pixel(&a, left, top + y), (size_t)b.width * 3) == 0, "%s row %d", part, y);
    cf_image_free(&a);
    cf_image_free(&b);
}

Test(image_decode, documented_crops_match)
{
    expect_crop("rocket.png", "rocket_portrait.png", 220, 0);
    expect_crop("chelsea.png", "chelsea_small.png", 150, 60);
}

Test(image_decode, jpeg_within_two_levels_of_libjpeg)
{
    cf_image jpg = load_media("rocket.jpg"), png = load_media("rocket.png");
    int worst = max_diff(&jpg, &png);
    fprintf(stderr, "[image] rocket.jpg (stb_image) vs rocket.png (libjpeg-turbo): max |diff| %d levels\n", worst);
    cr_expect_leq(worst, JPEG_TOLERANCE);
    cf_image_free(&jpg);
    cf_image_free(&png);
}

Test(image_decode, memory_equals_file)
{
    char path[4096];
    media_path("chelsea_small.png", path, sizeof path);
    size_t n;
    uint8_t *bytes = read_bytes(path, &n);
    cf_image a = load_ok(path), b = decode_ok(bytes, n, NULL);
    cr_expect_eq(max_diff(&a, &b), 0);
    cf_image_free(&a);
    cf_image_free(&b);
    free(bytes);
}

/* ------------------------------------------------------------------ own small images ---- */

Test(image_decode, bmp_gif_and_gray_jpeg)
{
    char path[4096];
    data_path("image/tiny.bmp", path, sizeof path);
    cf_image bmp = load_ok(path);
    data_path("image/tiny.png", path, sizeof path);
    cf_image png = load_ok(path);
    cr_expect_eq(max_diff(&bmp, &png), 0, "the BMP and PNG hold the same pixels");

    data_path("image/tiny.gif", path, sizeof path);
    cf_image gif = load_ok(path);
    cr_expect_eq(gif.width, 1);
    cr_expect(pixel(&gif, 0, 0)[0] == 255 && pixel(&gif, 0, 0)[1] == 0 && pixel(&gif, 0, 0)[2] == 0, "palette red");

    data_path("image/tiny_gray.jpg", path, sizeof path);
    cf_image gray = load_ok(path);
    for (size_t i = 0; i < (size_t)gray.width * gray.height; i++)
        cr_assert(gray.data[3 * i] == gray.data[3 * i + 1] && gray.data[3 * i] == gray.data[3 * i + 2]);
    cf_image_free(&bmp);
    cf_image_free(&png);
    cf_image_free(&gif);
    cf_image_free(&gray);
}

/* --- a minimal PNG writer (stored deflate blocks) for bit depths and colour types the encoder
 * under test cannot produce. */

static uint32_t crc32_png(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

static void put32(cf_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    cf_buf_append(b, x, 4);
}

static void put_chunk(cf_buf *b, const char *type, const uint8_t *data, size_t n)
{
    put32(b, (uint32_t)n);
    size_t start = b->len;
    cf_buf_append(b, type, 4);
    cf_buf_append(b, data, n);
    put32(b, crc32_png((const uint8_t *)b->data + start, n + 4, 0));
}

/* Raw scanlines (filter byte 0 each) wrapped in a zlib stream of one stored block. */
static void put_idat(cf_buf *b, const uint8_t *raw, size_t n)
{
    cf_buf z = {0};
    uint8_t head[] = {0x78, 0x01, 0x01, (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)~n, (uint8_t)(~n >> 8)};
    cf_buf_append(&z, head, sizeof head);
    cf_buf_append(&z, raw, n);
    uint32_t a = 1, s = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + raw[i]) % 65521;
        s = (s + a) % 65521;
    }
    put32(&z, s << 16 | a);
    put_chunk(b, "IDAT", (const uint8_t *)z.data, z.len);
    cf_buf_free(&z);
}

static cf_buf make_png(int w, int h, int depth, int color_type, const uint8_t *raw, size_t raw_n,
                       const uint8_t *plte, size_t plte_n, const uint8_t *trns, size_t trns_n)
{
    cf_buf b = {0};
    cf_buf_append(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0, 0, 0, (uint8_t)w, 0, 0, 0, (uint8_t)h, (uint8_t)depth, (uint8_t)color_type, 0, 0, 0};
    put_chunk(&b, "IHDR", ihdr, 13);
    if (plte)
        put_chunk(&b, "PLTE", plte, plte_n);
    if (trns)
        put_chunk(&b, "tRNS", trns, trns_n);
    put_idat(&b, raw, raw_n);
    put_chunk(&b, "IEND", NULL, 0);
    return b;
}

static void expect_rgb(const cf_image *img, int x, int y, int r, int g, int b)
{
    const uint8_t *p = pixel(img, x, y);
    cr_expect(p[0] == r && p[1] == g && p[2] == b, "(%d,%d) = %d,%d,%d, want %d,%d,%d", x, y, p[0], p[1], p[2], r, g,
              b);
}

Test(image_decode, png_bit_depths_and_colour_types)
{
    /* 16-bit RGB: PIL keeps the high byte of each sample. */
    uint8_t rgb16[] = {0, 0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x01, 0x80, 0x00};
    cf_buf b = make_png(2, 1, 16, 2, rgb16, 13, NULL, 0, NULL, 0);
    cf_image img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    expect_rgb(&img, 0, 0, 0x12, 0xAB, 0x00);
    expect_rgb(&img, 1, 0, 0xFF, 0x00, 0x80);
    cf_image_free(&img);
    cf_buf_free(&b);

    /* 16-bit gray: mode "I", clipped to 0..255 by convert("RGB"). */
    uint8_t gray16[] = {0, 0x00, 0x07, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0xFF};
    b = make_png(4, 1, 16, 0, gray16, 9, NULL, 0, NULL, 0);
    img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    expect_rgb(&img, 0, 0, 7, 7, 7);
    expect_rgb(&img, 1, 0, 255, 255, 255);
    expect_rgb(&img, 2, 0, 255, 255, 255);
    expect_rgb(&img, 3, 0, 255, 255, 255);
    cf_image_free(&img);
    cf_buf_free(&b);

    /* 16-bit gray + alpha: mode "LA" from the high bytes; alpha dropped. */
    uint8_t la16[] = {0, 0x40, 0x99, 0x12, 0x34};
    b = make_png(1, 1, 16, 4, la16, 5, NULL, 0, NULL, 0);
    img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    expect_rgb(&img, 0, 0, 0x40, 0x40, 0x40);
    cf_image_free(&img);
    cf_buf_free(&b);

    /* Palette with a transparent entry: convert("RGB") gives the palette colour. */
    uint8_t pal_raw[] = {0, 0, 1, 2};
    uint8_t plte[] = {10, 20, 30, 40, 50, 60, 70, 80, 90};
    uint8_t trns[] = {0};
    b = make_png(3, 1, 8, 3, pal_raw, 4, plte, 9, trns, 1);
    img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    expect_rgb(&img, 0, 0, 10, 20, 30);
    expect_rgb(&img, 1, 0, 40, 50, 60);
    expect_rgb(&img, 2, 0, 70, 80, 90);
    cf_image_free(&img);
    cf_buf_free(&b);

    /* 1-bit gray: mode "1", 0 / 255. */
    uint8_t bits[] = {0, 0xA0};
    b = make_png(3, 1, 1, 0, bits, 2, NULL, 0, NULL, 0);
    img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    expect_rgb(&img, 0, 0, 255, 255, 255);
    expect_rgb(&img, 1, 0, 0, 0, 0);
    expect_rgb(&img, 2, 0, 255, 255, 255);
    cf_image_free(&img);
    cf_buf_free(&b);
}

/* ------------------------------------------------------------------ EXIF orientation ---- */

/* A 3x2 image "a b c / d e f" and what PIL's exif_transpose makes of it, written out by hand. */
Test(image_orientation, transposes_match_pil)
{
    static const char *const want[9] = {NULL,   "abc/def", "cba/fed", "fed/cba", "def/abc",
                                        "ad/be/cf", "da/eb/fc", "fc/eb/da", "cf/be/ad"};
    cf_image in;
    cf_error err = {0};
    cr_assert_eq(cf_image_alloc(&in, 3, 2, 1, &err), CF_OK);
    memcpy(in.data, "abcdef", 6);
    for (int o = 1; o <= 8; o++) {
        cf_image out;
        cr_assert_eq(cf_image_apply_orientation(&in, o, &out, &err), CF_OK, "%s", err.message);
        char got[16] = {0}, *p = got;
        for (int y = 0; y < out.height; y++) {
            if (y)
                *p++ = '/';
            memcpy(p, out.data + (size_t)y * out.width, (size_t)out.width);
            p += out.width;
        }
        cr_expect_str_eq(got, want[o], "orientation %d", o);
        cf_image_free(&out);
    }
    cf_image_free(&in);
}

/* TIFF block with IFD0 = {Orientation (SHORT, 1) = value}. */
static size_t make_exif(uint8_t *out, int value, bool big_endian)
{
    uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)value, 0, 0, 0, 0, 0, 0, 0};
    uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)value, 0, 0, 0, 0, 0, 0};
    memcpy(out, "Exif\0\0", 6);
    memcpy(out + 6, big_endian ? be : le, sizeof le);
    return 6 + sizeof le;
}

/* tiny.jpg with an APP1 Exif segment right after SOI. */
static uint8_t *jpeg_with_orientation(const uint8_t *jpg, size_t n, int value, bool big_endian, size_t *out_n)
{
    uint8_t exif[64];
    size_t e = make_exif(exif, value, big_endian);
    uint8_t *out = malloc(n + e + 4);
    memcpy(out, jpg, 2);
    uint8_t seg[4] = {0xFF, 0xE1, (uint8_t)((e + 2) >> 8), (uint8_t)(e + 2)};
    memcpy(out + 2, seg, 4);
    memcpy(out + 6, exif, e);
    memcpy(out + 6 + e, jpg + 2, n - 2);
    *out_n = n + e + 4;
    return out;
}

Test(image_orientation, jpeg_exif_is_applied)
{
    char path[4096];
    data_path("image/tiny.jpg", path, sizeof path);
    size_t n;
    uint8_t *jpg = read_bytes(path, &n);
    cf_image plain = decode_ok(jpg, n, NULL);
    for (int o = 1; o <= 8; o++)
        for (int be = 0; be < 2; be++) {
            size_t m;
            uint8_t *tagged = jpeg_with_orientation(jpg, n, o, be, &m);
            int got = 0;
            cf_error err = {0};
            cr_assert_eq(cf_image_exif_orientation(tagged, m, &got, &err), CF_OK, "%s", err.message);
            cr_expect_eq(got, o, "%s-endian EXIF", be ? "big" : "little");
            cf_image want, img = decode_ok(tagged, m, NULL);
            cr_assert_eq(cf_image_apply_orientation(&plain, o, &want, &err), CF_OK);
            cr_expect_eq(max_diff(&img, &want), 0, "orientation %d", o);
            cf_image_free(&img);
            cf_image_free(&want);

            cf_image_decode_options keep = cf_image_decode_defaults();
            keep.exif_transpose = false;
            img = decode_ok(tagged, m, &keep);
            cr_expect_eq(max_diff(&img, &plain), 0, "exif_transpose off keeps the stored layout");
            cf_image_free(&img);
            free(tagged);
        }
    cf_image_free(&plain);
    free(jpg);
}

Test(image_orientation, png_exif_chunk_is_applied)
{
    uint8_t raw[] = {0, 1, 2, 3, 4, 5, 6, 0, 7, 8, 9, 10, 11, 12};
    cf_buf b = {0};
    cf_buf_append(&b, "\x89PNG\r\n\x1a\n", 8);
    uint8_t ihdr[13] = {0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0};
    put_chunk(&b, "IHDR", ihdr, 13);
    uint8_t exif[64];
    size_t e = make_exif(exif, 8, false);
    put_chunk(&b, "eXIf", exif + 6, e - 6);
    put_idat(&b, raw, sizeof raw);
    put_chunk(&b, "IEND", NULL, 0);
    cf_image img = decode_ok((const uint8_t *)b.data, b.len, NULL);
    /* rotate 90 counter-clockwise: the top-right pixel moves to the top left, the top-left one below it */
    expect_rgb(&img, 0, 0, 4, 5, 6);
    expect_rgb(&img, 0, 1, 1, 2, 3);
    cf_image_free(&img);
    cf_buf_free(&b);
}

Test(image_orientation, damaged_directory_is_ignored_like_pil)
{
    uint8_t exif[64];
    size_t e = make_exif(exif, 6, false);
    int o = 0;
    cf_error err = {0};
    /* IFD offset past the end: PIL warns and reads no tags */
    exif[6 + 4] = 200;
    cr_expect_eq(cf_exif_orientation(exif, e, &o, &err), CF_OK);
    cr_expect_eq(o, 1);
    /* cut inside the entry */
    make_exif(exif, 6, false);
    cr_expect_eq(cf_exif_orientation(exif, 6 + 14, &o, &err), CF_OK);
    cr_expect_eq(o, 1);
    /* out-of-range values are not orientations */
    make_exif(exif, 9, false);
    cr_expect_eq(cf_exif_orientation(exif, e, &o, &err), CF_OK);
    cr_expect_eq(o, 1);
}

/* ------------------------------------------------------------------ PNG encoding ---- */

Test(image_encode, png_round_trips)
{
    for (int channels = 1; channels <= 4; channels++) {
        if (channels == 2)
            continue; /* LA is not an output mode */
        cf_image img;
        cf_error err = {0};
        cr_assert_eq(cf_image_alloc(&img, 7, 5, channels, &err), CF_OK);
        for (size_t i = 0; i < (size_t)7 * 5 * channels; i++)
            img.data[i] = (uint8_t)(i * 37 + 11);
        uint8_t *png;
        size_t n;
        cr_assert_eq(cf_image_encode_png(&img, &png, &n, &err), CF_OK, "%s", err.message);
        cf_image back = decode_ok(png, n, NULL);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++) {
                const uint8_t *s = pixel(&img, x, y);
                expect_rgb(&back, x, y, s[0], s[channels >= 3 ? 1 : 0], s[channels >= 3 ? 2 : 0]);
            }
        char path[] = "/tmp/cformer_test_image_XXXXXX";
        int fd = mkstemp(path);
        cr_assert(fd >= 0);
        close(fd);
        cr_assert_eq(cf_image_write_png(path, &img, &err), CF_OK, "%s", err.message);
        cf_image from_file = load_ok(path);
        cr_expect_eq(max_diff(&from_file, &back), 0);
        unlink(path);
        cf_image_free(&from_file);
        cf_image_free(&back);
        cf_image_free(&img);
        free(png);
    }
}

Test(image_encode, bad_arguments_fail)
{
    cf_image img = {0};
    uint8_t *png;
    size_t n;
    cf_error err = {0};
    cr_expect_eq(cf_image_encode_png(&img, &png, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_image_alloc(&img, 2, 2, 3, &err), CF_OK);
    cr_expect_neq(cf_image_write_png("/nonexistent-dir/x.png", &img, &err), CF_OK);
    cr_expect(strstr(err.message, "/nonexistent-dir/x.png"), "%s", err.message);
    cf_image_free(&img);
}

/* ------------------------------------------------------------------ bad input ---- */

Test(image_bad, corpus_gives_clear_errors)
{
    char dir[4096];
    data_path("bad/image", dir, sizeof dir);
    DIR *d = opendir(dir);
    cr_assert(d, "%s missing", dir);
    struct dirent *e;
    size_t files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cf_image img = {0};
        cf_error err = {0};
        cf_status st = cf_image_load(path, NULL, &img, &err);
        cr_expect_neq(st, CF_OK, "%s decoded to %dx%d instead of failing", e->d_name, img.width, img.height);
        cr_expect(strstr(err.message, e->d_name), "%s: the message does not name the file: %s", e->d_name,
                  err.message);
        cr_expect_null(img.data);
        if (strncmp(e->d_name, "huge", 4) == 0)
            cr_expect_eq(st, CF_ERR_NOMEM, "%s: %s", e->d_name, err.message);
        if (strstr(e->d_name, "exif"))
            cr_expect(strstr(err.message, "EXIF"), "%s: %s", e->d_name, err.message);
        if (strstr(e->d_name, "overrun")) /* refused before the decoder sizes a buffer from the length */
            cr_expect(strstr(err.message, "chunk"), "%s: %s", e->d_name, err.message);
        fprintf(stderr, "[image] %-22s -> %s: %s\n", e->d_name, cf_status_name(st), err.message);
        cf_image_free(&img);
        files++;
    }
    closedir(d);
    cr_assert_gt(files, 0);
}

Test(image_bad, pixel_limit_is_configurable)
{
    char path[4096];
    media_path("chelsea_small.png", path, sizeof path);
    cf_image_decode_options opt = cf_image_decode_defaults();
    opt.max_pixels = 97 * 61 - 1;
    cf_image img;
    cf_error err = {0};
    cr_expect_eq(cf_image_load(path, &opt, &img, &err), CF_ERR_NOMEM);
    cr_expect(strstr(err.message, "97x61"), "%s", err.message);
    opt.max_pixels = 97 * 61;
    cr_expect_eq(cf_image_load(path, &opt, &img, &err), CF_OK, "%s", err.message);
    cf_image_free(&img);
}

Test(image_bad, missing_file_and_null_bytes)
{
    cf_image img;
    cf_error err = {0};
    cr_expect_neq(cf_image_load("/nonexistent/cat.png", NULL, &img, &err), CF_OK);
    cr_expect(strstr(err.message, "/nonexistent/cat.png"), "%s", err.message);
    cr_expect_eq(cf_image_decode(NULL, 0, "upload", NULL, &img, &err), CF_ERR_FORMAT);
    cr_expect(strstr(err.message, "upload"), "%s", err.message);
}
