/* The image processors of transformers 4.35.2, driven by preprocessor_config.json, turning
 * decoded RGB images into the pixel_values (and pixel_mask) a vision model takes:
 *
 *   ViTImageProcessor       resize to size {height, width}
 *   ConvNextImageProcessor  shortest_edge < 384: resize the shortest edge to
 *                           int(shortest_edge / crop_pct), then center crop (zero-padded when
 *                           smaller); otherwise resize straight to shortest_edge^2
 *   DetrImageProcessor      resize keeping the aspect ratio (shortest_edge, capped by
 *                           longest_edge), pad the batch bottom/right to its largest image
 *                           with a pixel_mask
 *   GLPNImageProcessor      round height and width down to multiples of size_divisor
 *
 * then, for all: rescale (uint8 * rescale_factor in float64, then float32), normalize
 * ((x - mean) / std in float32), channels first. Resizing is PIL's (media/resize.h). The older
 * *FeatureExtractor names and their int "size" / "max_size" forms are accepted too. */
#ifndef CF_MEDIA_IMAGE_PROCESSORS_H
#define CF_MEDIA_IMAGE_PROCESSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"
#include "media/image.h"
#include "media/resize.h"

typedef enum cf_image_processor_kind {
    CF_IMAGE_PROCESSOR_VIT = 0,
    CF_IMAGE_PROCESSOR_CONVNEXT,
    CF_IMAGE_PROCESSOR_DETR,
    CF_IMAGE_PROCESSOR_GLPN
} cf_image_processor_kind;

typedef struct cf_image_processor {
    cf_image_processor_kind kind;
    char name[64];                       /* image_processor_type as written in the config */
    bool do_resize, do_rescale, do_normalize, do_pad;
    cf_resample resample;
    int64_t height, width;               /* ViT, DETR with size {height, width}; 0 when unused */
    int64_t shortest_edge, longest_edge; /* ConvNeXT (shortest), DETR (both); 0 when unused */
    double crop_pct;                     /* ConvNeXT */
    int64_t size_divisor;                /* GLPN */
    double rescale_factor;
    double mean[3], std[3];
} cf_image_processor;

/* Read preprocessor_config.json (already loaded); missing keys take the processor's defaults.
 * Errors name the config file and the key. */
cf_status cf_image_processor_init(cf_image_processor *p, const cf_config *preprocessor_config, cf_error *err);

/* Height and width the processor gives an image of the given size, before batch padding. */
cf_status cf_image_processor_output_size(const cf_image_processor *p, int64_t height, int64_t width,
                                         int64_t *out_height, int64_t *out_width, cf_error *err);

typedef struct cf_image_sizes {
    int64_t orig_height, orig_width; /* of the input image (to map boxes back) */
    int64_t height, width;           /* after resizing / cropping, before padding */
} cf_image_sizes;

typedef struct cf_pixel_values {
    size_t n;
    int64_t height, width; /* of the batch tensor (after padding) */
    float *values;         /* [n, 3, height, width] */
    uint8_t *mask;         /* [n, height, width], 1 = image, 0 = padding; NULL unless the processor pads */
    cf_image_sizes *sizes; /* [n] */
} cf_pixel_values;

/* Preprocess a batch of RGB images (3 channels). Processors that do not pad need every image to
 * come out the same size, as stacking them into one tensor does. */
cf_status cf_image_processor_run(const cf_image_processor *p, const cf_image *const *images, size_t n,
                                 cf_pixel_values *out, cf_error *err);
void cf_pixel_values_free(cf_pixel_values *pv);

/* One image straight from the config: *pixel_values is [3, *h, *w] (malloc'ed), *pixel_mask
 * [*h, *w] or NULL when the processor does not pad (pixel_mask itself may be NULL). */
cf_status cf_image_preprocess(const cf_config *preprocessor_config, const cf_image *img, float **pixel_values,
                              int64_t *h, int64_t *w, uint8_t **pixel_mask, cf_error *err);

#endif
