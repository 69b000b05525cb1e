/* PIL's Image.resize for 8-bit images, bit for bit (Pillow's Resample.c and Geometry.c): every
 * Hugging Face image processor resizes through PIL, so the model sees exactly these pixels.
 *
 * The convolution filters (bilinear, bicubic a = -0.5, Lanczos-3, box, Hamming) are separable;
 * when shrinking, the support grows with the scale factor (antialiasing). Coefficients are
 * normalised to sum 1, converted to 22-bit fixed point, and each pass rounds and clips to uint8:
 * the horizontal pass first, then the vertical one. NEAREST is PIL's affine nearest-neighbour
 * sampling at pixel centres. */
#ifndef CF_MEDIA_RESIZE_H
#define CF_MEDIA_RESIZE_H

#include "media/image.h"

/* PIL's Image.Resampling numbering, which preprocessor_config.json "resample" uses. */
typedef enum cf_resample {
    CF_RESAMPLE_NEAREST = 0,
    CF_RESAMPLE_LANCZOS = 1,
    CF_RESAMPLE_BILINEAR = 2,
    CF_RESAMPLE_BICUBIC = 3,
    CF_RESAMPLE_BOX = 4,
    CF_RESAMPLE_HAMMING = 5
} cf_resample;

/* "bilinear", ...; NULL for a value outside the enum. */
const char *cf_resample_name(int resample);

/* Resize to width x height (1..4 channels, each resampled independently). Same size copies,
 * as PIL does. */
cf_status cf_image_resize(const cf_image *in, int width, int height, cf_resample resample, cf_image *out,
                          cf_error *err);

#endif
