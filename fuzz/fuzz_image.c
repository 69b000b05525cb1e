/* libFuzzer target: image decoding from memory (format sniffing, container walkers, stb_image,
 * RGB conversion, EXIF orientation) and the EXIF/TIFF parser on raw bytes. Decoded images are
 * also resized, so the resampler sees every odd size the decoder can produce. */
#include <stddef.h>
#include <stdint.h>

#include "media/image.h"
#include "media/resize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_error err = {0};
    cf_image_decode_options opt = cf_image_decode_defaults();
    opt.max_pixels = (int64_t)1 << 18; /* keep each run fast; the limit check itself is exercised too */
    cf_image img;
    if (cf_image_decode(data, size, "fuzz input", &opt, &img, &err) == CF_OK) {
        cf_image small;
        if (cf_image_resize(&img, 7, 5, CF_RESAMPLE_BICUBIC, &small, &err) == CF_OK)
            cf_image_free(&small);
        cf_image_free(&img);
    }
    int orientation;
    (void)cf_exif_orientation(data, size, &orientation, &err);
    return 0;
}
