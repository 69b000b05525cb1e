#include "pipelines/segmentation_post.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv_maps.h"

/* Row-wise float32 softmax of logits into probs. */
static void softmax(const float *logits, int64_t n, float *probs)
{
    float mx = logits[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    for (int64_t i = 0; i < n; i++)
        sum += probs[i] = expf(logits[i] - mx);
    for (int64_t i = 0; i < n; i++)
        probs[i] /= sum;
}

/* Best class over all logits (incl. "no object") and its probability. */
static void best_of(const float *logits, int64_t n, float *probs, float *score, int64_t *label)
{
    softmax(logits, n, probs);
    *label = 0;
    for (int64_t i = 1; i < n; i++)
        if (probs[i] > probs[*label])
            *label = i;
    *score = probs[*label];
}

static bool in_list(const int64_t *list, size_t n, int64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == v)
            return true;
    return false;
}

/* Bilinear resize of kept query masks to [k, out_h, out_w], each weighted by its score. */
static void resize_weighted(const cf_seg_queries *q, const int64_t *kept, const float *scores, int64_t k,
                            int64_t out_h, int64_t out_w, float *probs)
{
    int64_t px = out_h * out_w;
    for (int64_t i = 0; i < k; i++) {
        float *dst = probs + i * px;
        cf_interpolate(q->mask_probs + kept[i] * q->h * q->w, q->h, q->w, 1, dst, out_h, out_w, CF_INTERP_BILINEAR, 0,
                       0);
        for (int64_t p = 0; p < px; p++)
            dst[p] *= scores[i];
    }
}

static void assign_segments(const float *probs, const float *scores, const int64_t *labels, int64_t k, int64_t px,
                            const cf_seg_options *opt, int32_t *seg, cf_segment *out, size_t *n_out, int32_t *owner)
{
    for (int64_t p = 0; p < px; p++) { /* argmax over queries, first of ties */
        int32_t best = 0;
        for (int64_t i = 1; i < k; i++)
            if (probs[i * px + p] > probs[best * px + p])
                best = (int32_t)i;
        owner[p] = best;
    }
    int32_t current = 0;
    int64_t memory_labels[1024];
    int32_t memory_ids[1024];
    size_t n_memory = 0;
    *n_out = 0;
    for (int64_t i = 0; i < k; i++) {
        bool fuse = in_list(opt->label_ids_to_fuse, opt->n_fuse, labels[i]);
        int64_t area = 0, original = 0;
        for (int64_t p = 0; p < px; p++) {
            area += owner[p] == i;
            original += probs[i * px + p] >= opt->mask_threshold;
        }
        if (!(area > 0 && original > 0 && (double)area / (double)original > opt->overlap_mask_area_threshold))
            continue;
        int32_t id = 0;
        for (size_t m = 0; m < n_memory; m++)
            if (memory_labels[m] == labels[i])
                id = memory_ids[m];
        current = id ? id : current + 1;
        for (int64_t p = 0; p < px; p++)
            if (owner[p] == i)
                seg[p] = current;
        out[(*n_out)++] = (cf_segment){.id = current, .label_id = labels[i], .was_fused = fuse, .score = scores[i]};
        if (fuse && n_memory < 1024 && !id) {
            memory_labels[n_memory] = labels[i];
            memory_ids[n_memory++] = current;
        }
    }
}

cf_status cf_seg_panoptic(const cf_seg_queries *q, const cf_seg_options *opt, int64_t out_h, int64_t out_w,
                          int32_t *segmentation, cf_segment **segments, size_t *n_segments, cf_error *err)
{
    *segments = NULL;
    *n_segments = 0;
    int64_t px = out_h * out_w, n = q->n_queries;
    float *class_probs = malloc((size_t)q->n_logits * sizeof(float)), *scores = malloc((size_t)n * sizeof(float));
    int64_t *labels = malloc((size_t)n * sizeof(int64_t)), *kept = malloc((size_t)n * sizeof(int64_t));
    if (!class_probs || !scores || !labels || !kept) {
        free(class_probs), free(scores), free(labels), free(kept);
        return cf_fail(err, CF_ERR_NOMEM, "segmentation: out of memory");
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        float s;
        int64_t l;
        best_of(q->class_logits + i * q->n_logits, q->n_logits, class_probs, &s, &l);
        if (l != q->n_logits - 1 && s > opt->threshold) {
            kept[k] = i;
            scores[k] = s;
            labels[k++] = l;
        }
    }
    cf_status st = CF_OK;
    if (k == 0) {
        for (int64_t p = 0; p < px; p++)
            segmentation[p] = -1;
    } else {
        float *probs = malloc((size_t)(k * px) * sizeof(float));
        int32_t *owner = malloc((size_t)px * sizeof(int32_t));
        *segments = malloc((size_t)k * sizeof(cf_segment));
        if (!probs || !owner || !*segments) {
            st = cf_fail(err, CF_ERR_NOMEM, "segmentation: cannot allocate %lld masks of %lldx%lld", (long long)k,
                         (long long)out_h, (long long)out_w);
        } else {
            memset(segmentation, 0, (size_t)px * sizeof(int32_t));
            resize_weighted(q, kept, scores, k, out_h, out_w, probs);
            assign_segments(probs, scores, labels, k, px, opt, segmentation, *segments, n_segments, owner);
        }
        free(probs);
        free(owner);
        if (st != CF_OK) {
            free(*segments);
            *segments = NULL;
        }
    }
    free(class_probs), free(scores), free(labels), free(kept);
    return st;
}

cf_status cf_seg_semantic(const cf_seg_queries *q, int64_t out_h, int64_t out_w, int64_t *labels, cf_error *err)
{
    int64_t classes = q->n_logits - 1, n = q->n_queries, hw = q->h * q->w, px = out_h * out_w;
    float *probs = malloc((size_t)(n * q->n_logits) * sizeof(float));
    float *seg = malloc((size_t)(hw * classes) * sizeof(float)); /* [h, w, classes] */
    float *big = malloc((size_t)(px * classes) * sizeof(float));
    if (!probs || !seg || !big) {
        free(probs), free(seg), free(big);
        return cf_fail(err, CF_ERR_NOMEM, "semantic segmentation: cannot allocate %lld class maps of %lldx%lld",
                       (long long)classes, (long long)out_h, (long long)out_w);
    }
    for (int64_t i = 0; i < n; i++)
        softmax(q->class_logits + i * q->n_logits, q->n_logits, probs + i * q->n_logits);
    for (int64_t p = 0; p < hw; p++)
        for (int64_t c = 0; c < classes; c++) {
            float acc = 0;
            for (int64_t i = 0; i < n; i++)
                acc += probs[i * q->n_logits + c] * q->mask_probs[i * hw + p];
            seg[p * classes + c] = acc;
        }
    cf_interpolate(seg, q->h, q->w, classes, big, out_h, out_w, CF_INTERP_BILINEAR, 0, 0);
    for (int64_t p = 0; p < px; p++) {
        const float *v = big + p * classes;
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (v[c] > v[best])
                best = c;
        labels[p] = best;
    }
    free(probs), free(seg), free(big);
    return CF_OK;
}
