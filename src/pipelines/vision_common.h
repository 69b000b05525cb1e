/* What the image pipelines share: reading the input image (a file path, or base64 image bytes as
 * the HTTP server passes a raw body), preprocessing it with the model's preprocessor_config.json,
 * and images out as base64 PNG strings (the Inference API's form). */
#ifndef CF_PIPELINES_VISION_COMMON_H
#define CF_PIPELINES_VISION_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base64.h"
#include "media/image.h"
#include "media/image_processors.h"
#include "pipelines/pipeline.h"

/* The image processor of a model folder (preprocessor_config.json must exist). */
cf_status cf_vision_processor_open(const cf_pipeline *p, cf_image_processor *proc, cf_error *err);

/* Decode one input: a path to an image file, or base64 (optionally a data: URL) of its bytes. */
cf_status cf_vision_load_input(const cJSON *input, cf_image *img, cf_error *err);

/* Run `fn` over the payload's inputs: one image (then *out is fn's result) or an array of them
 * (then *out is the array of results), as the Python pipelines do. */
typedef cf_status (*cf_vision_one_fn)(cf_pipeline *p, const cf_image *img, const cJSON *params, cJSON **out,
                                      cf_error *err);
cf_status cf_vision_run_inputs(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cf_vision_one_fn fn,
                               cJSON **out, cf_error *err);

/* Preprocess one image: pixel_values [1, 3, h, w] (+ pixel_mask) and its sizes. */
cf_status cf_vision_preprocess(const cf_image_processor *proc, const cf_image *img, cf_pixel_values *pv,
                               cf_error *err);

/* A JSON string holding the base64 of the image's PNG encoding. */
cf_status cf_vision_png_json(const cf_image *img, cJSON **out, cf_error *err);

/* Label of class id from config.json's id2label. */
const char *cf_vision_label(const cf_pipeline *p, int64_t id, char *buf, size_t size);

/* Python's round(x, 6) of a float32, as a JSON number. */
cJSON *cf_json_round6(float x);

#endif
