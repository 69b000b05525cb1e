/* DETR (Carion et al., "End-to-End Object Detection with Transformers"): a ResNet backbone, a 1x1
 * projection to d_model, sine position embeddings of the (padding-aware) feature map, a post-LN
 * transformer encoder/decoder where position embeddings are added to queries and keys of every
 * attention (object queries in the decoder), and per query a class (+ "no object") and a box
 * (cx, cy, w, h in [0, 1]). DetrForSegmentation adds a mask head: multi-head attention maps of
 * each query over the encoder memory, refined by an FPN-style convolutional head on the backbone's
 * finer stages into one mask logit map per query at stride 4. */
#ifndef CF_MODELS_DETR_H
#define CF_MODELS_DETR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"
#include "models/vision.h"

typedef struct cf_detr cf_detr;

bool cf_detr_supports(const cf_config *config);
cf_status cf_detr_load(const char *dir, const cf_config *config, cf_detr **out, cf_error *err);
void cf_detr_free(cf_detr *m);

bool cf_detr_has_masks(const cf_detr *m); /* DetrForSegmentation */
int64_t cf_detr_num_queries(const cf_detr *m);
int64_t cf_detr_num_logits(const cf_detr *m); /* classes + 1 ("no object", the last) */
/* Size of the mask logit maps for an input of h x w (stride 4); false if the image is too small. */
bool cf_detr_mask_size(const cf_detr *m, int64_t h, int64_t w, int64_t *mh, int64_t *mw);

/* Caller-allocated outputs. */
typedef struct cf_detr_output {
    float *logits; /* [n, queries, num_logits] */
    float *boxes;  /* [n, queries, 4]: cx, cy, w, h relative to the padded input */
    float *masks;  /* [n, queries, mh, mw] mask logits, or NULL to skip the mask head */
} cf_detr_output;

/* pixel_values[n, 3, h, w]; pixel_mask[n, h, w] 1 = image, 0 = padding (NULL: all image). */
cf_status cf_detr_forward(cf_detr *m, const float *pixel_values, const uint8_t *pixel_mask, int64_t n, int64_t h,
                          int64_t w, const cf_vision_tap *tap, const cf_detr_output *out, cf_error *err);

#endif
