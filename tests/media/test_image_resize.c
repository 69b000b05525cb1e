/* PIL-exact resampling. The fixture tests (test_image_processors.c) check bilinear end to end
 * against PIL's output; here small cases worked out by hand from Pillow's algorithm (support
 * scaled by the downscale factor, normalised weights, 22-bit fixed point with rounding, uint8
 * clipping per pass) pin down the other filters. All expectations are exact (tolerance 0). */
#include <criterion/criterion.h>
#include <string.h>

#include "media/resize.h"

static cf_image row_image(const uint8_t *v, int w)
{
    cf_image img;
    cf_error err = {0};
    cr_assert_eq(cf_image_alloc(&img, w, 1, 1, &err), CF_OK);
    memcpy(img.data, v, (size_t)w);
    return img;
}

static void expect_row(cf_resample r, const uint8_t *in, int in_w, const uint8_t *want, int out_w)
{
    cf_image src = row_image(in, in_w), out;
    cf_error err = {0};
    cr_assert_eq(cf_image_resize(&src, out_w, 1, r, &out, &err), CF_OK, "%s", err.message);
    for (int i = 0; i < out_w; i++)
        cr_expect_eq(out.data[i], want[i], "%s: pixel %d is %d, want %d", cf_resample_name(r), i, out.data[i], want[i]);
    cf_image_free(&out);
    cf_image_free(&src);
}

/* Halving with bilinear: the support doubles, weights 1/8 3/8 3/8 1/8 (renormalised at edges). */
Test(resize, bilinear_downscale_antialiases)
{
    const uint8_t in[8] = {0, 0, 0, 0, 255, 255, 255, 255}, want[4] = {0, 32, 223, 255};
    expect_row(CF_RESAMPLE_BILINEAR, in, 8, want, 4);
}

/* Doubling with bicubic (a = -0.5): weights 0.867/-0.070 and 0.867/0.227 renormalised; the
 * negative lobe clips to 0 and 255 at the ends. */
Test(resize, bicubic_upscale)
{
    const uint8_t in[2] = {0, 255}, want[4] = {0, 53, 202, 255};
    expect_row(CF_RESAMPLE_BICUBIC, in, 2, want, 4);
}

/* PIL's nearest samples at pixel centres: halving keeps the odd pixels. */
Test(resize, nearest_samples_pixel_centres)
{
    const uint8_t in[4] = {10, 20, 30, 40}, half[2] = {20, 40}, twice[8] = {10, 10, 20, 20, 30, 30, 40, 40};
    expect_row(CF_RESAMPLE_NEAREST, in, 4, half, 2);
    expect_row(CF_RESAMPLE_NEAREST, in, 4, twice, 8);
}

Test(resize, constant_images_stay_constant)
{
    for (int r = 0; r <= 5; r++) {
        cf_image img, out;
        cf_error err = {0};
        cr_assert_eq(cf_image_alloc(&img, 37, 23, 3, &err), CF_OK);
        memset(img.data, 173, (size_t)37 * 23 * 3);
        const int sizes[][2] = {{10, 7}, {80, 50}, {37, 9}, {5, 23}, {1, 1}};
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            cr_assert_eq(cf_image_resize(&img, sizes[s][0], sizes[s][1], (cf_resample)r, &out, &err), CF_OK, "%s",
                         err.message);
            for (size_t i = 0; i < (size_t)out.width * out.height * 3; i++)
                cr_assert_eq(out.data[i], 173, "%s to %dx%d", cf_resample_name(r), sizes[s][0], sizes[s][1]);
            cf_image_free(&out);
        }
        cf_image_free(&img);
    }
}

/* Channels are resampled independently: RGB equals three single-channel resizes. */
Test(resize, channels_are_independent)
{
    cf_image rgb, plane[3];
    cf_error err = {0};
    cr_assert_eq(cf_image_alloc(&rgb, 31, 17, 3, &err), CF_OK);
    for (int c = 0; c < 3; c++)
        cr_assert_eq(cf_image_alloc(&plane[c], 31, 17, 1, &err), CF_OK);
    for (size_t i = 0; i < (size_t)31 * 17; i++)
        for (int c = 0; c < 3; c++)
            plane[c].data[i] = rgb.data[3 * i + (size_t)c] = (uint8_t)((i * (7 + 13 * (size_t)c)) ^ (i >> 3));
    for (int r = 0; r <= 5; r++) {
        cf_image out, po;
        cr_assert_eq(cf_image_resize(&rgb, 12, 40, (cf_resample)r, &out, &err), CF_OK);
        for (int c = 0; c < 3; c++) {
            cr_assert_eq(cf_image_resize(&plane[c], 12, 40, (cf_resample)r, &po, &err), CF_OK);
            for (size_t i = 0; i < (size_t)12 * 40; i++)
                cr_assert_eq(out.data[3 * i + (size_t)c], po.data[i], "%s channel %d", cf_resample_name(r), c);
            cf_image_free(&po);
        }
        cf_image_free(&out);
    }
    cf_image_free(&rgb);
    for (int c = 0; c < 3; c++)
        cf_image_free(&plane[c]);
}

Test(resize, same_size_copies_and_bad_sizes_fail)
{
    const uint8_t in[3] = {1, 2, 3};
    expect_row(CF_RESAMPLE_LANCZOS, in, 3, in, 3);
    cf_image src = row_image(in, 3), out;
    cf_error err = {0};
    cr_expect_eq(cf_image_resize(&src, 0, 5, CF_RESAMPLE_BILINEAR, &out, &err), CF_ERR_INVALID_ARG);
    cr_expect_eq(cf_image_resize(&src, 4, 1, (cf_resample)9, &out, &err), CF_ERR_UNSUPPORTED);
    cr_expect(strstr(err.message, "9"), "%s", err.message);
    cf_image_free(&src);
}
