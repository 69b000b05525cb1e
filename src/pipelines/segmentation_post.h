/* Segmentation post-processing shared by the mask-per-query models (DETR panoptic, Mask2Former),
 * as transformers 4.35.2 image processors do it:
 *
 *   panoptic / instance  keep queries whose best class is not "no object" and scores > threshold;
 *                        resize their mask probabilities bilinearly to the target size, weight
 *                        them by score, give each pixel to the best query, and keep a query's
 *                        segment when its pixels / its own (prob >= mask_threshold) area exceeds
 *                        overlap_mask_area_threshold (compute_segments);
 *   semantic             per class sum_q p(class | q) * mask_q, resized, argmax. */
#ifndef CF_PIPELINES_SEGMENTATION_POST_H
#define CF_PIPELINES_SEGMENTATION_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cf_segment {
    int32_t id;       /* value in the segmentation map, from 1 */
    int64_t label_id;
    bool was_fused;
    float score;
} cf_segment;

typedef struct cf_seg_queries {
    int64_t n_queries, n_logits; /* n_logits = classes + 1 ("no object" last) */
    const float *class_logits;   /* [n_queries, n_logits] */
    const float *mask_probs;     /* [n_queries, h, w], after the sigmoid */
    int64_t h, w;
} cf_seg_queries;

typedef struct cf_seg_options {
    float threshold, mask_threshold, overlap_mask_area_threshold;
    const int64_t *label_ids_to_fuse; /* may be NULL */
    size_t n_fuse;
} cf_seg_options;

/* segmentation[out_h * out_w] (ids; -1 everywhere when no query survives, 0 = no segment) and
 * *segments (malloc'ed, *n_segments of them, in query order). */
cf_status cf_seg_panoptic(const cf_seg_queries *q, const cf_seg_options *opt, int64_t out_h, int64_t out_w,
                          int32_t *segmentation, cf_segment **segments, size_t *n_segments, cf_error *err);

/* labels[out_h * out_w]: the semantic class of each pixel. */
cf_status cf_seg_semantic(const cf_seg_queries *q, int64_t out_h, int64_t out_w, int64_t *labels, cf_error *err);

#endif
