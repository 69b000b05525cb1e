/* Pictures of vision results, for people who would rather look than read:
 *  - object-detection: each box outlined in a colour of its label, "label 0.59" above it;
 *  - image-segmentation: each mask filled with a translucent colour, its label at its centre;
 *  - depth-estimation: the input, and beside it the depth map in a colour map (near dark blue,
 *    far red; "turbo").
 * Images inside the result (masks, depth) may be base64 PNG strings or paths to PNG files. */
#ifndef CF_PIPELINES_ANNOTATE_H
#define CF_PIPELINES_ANNOTATE_H

#include <stdbool.h>

#include "media/image.h"

typedef struct cJSON cJSON;

/* Can `task` (any name or alias cf_task_find knows) be drawn? */
bool cf_annotate_supports(const char *task);

/* Draw `result` (one image's output JSON of `task`) on `input` (RGB) into *out (RGB, owned by the
 * caller: cf_image_free). */
cf_status cf_annotate(const char *task, const cf_image *input, const cJSON *result, cf_image *out, cf_error *err);

/* Text drawn with the built-in 5x7 font, each pixel a scale x scale square (for tests and tools). */
void cf_annotate_text(cf_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3]);
/* Width in pixels of text at a scale. */
int cf_annotate_text_width(const char *text, int scale);

#endif
