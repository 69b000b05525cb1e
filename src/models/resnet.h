/* ResNet backbone (He et al., "Deep Residual Learning"), as DETR uses it: a 7x7 stride-2 stem with
 * max pooling, then stages of basic or bottleneck blocks, every BatchNorm frozen and folded into
 * its convolution. The architecture (stage count, blocks per stage, widths, block kind) is read
 * from the checkpoint's tensor shapes, under either naming:
 *
 *   transformers ResNetBackbone  <p>embedder.embedder.convolution, <p>encoder.stages.S.layers.B.layer.K,
 *                                <p>encoder.stages.S.layers.B.shortcut
 *   timm resnet                  <p>conv1, <p>bn1, <p>layerS.B.convK / bnK, <p>layerS.B.downsample.{0,1}
 */
#ifndef CF_MODELS_RESNET_H
#define CF_MODELS_RESNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/safetensors.h"

#define CF_RESNET_MAX_STAGES 4

typedef struct cf_resnet cf_resnet;

typedef struct cf_resnet_options {
    bool timm_names;
    bool downsample_in_first_stage; /* transformers: stride 2 in stage 1 too */
    bool downsample_in_bottleneck;  /* transformers: stride on the first 1x1 instead of the 3x3 */
    float bn_eps;
} cf_resnet_options;

cf_status cf_resnet_load(const cf_safetensors *st, const char *prefix, const cf_resnet_options *opt, cf_resnet **out,
                         cf_error *err);
void cf_resnet_free(cf_resnet *r);

int cf_resnet_num_stages(const cf_resnet *r);
int64_t cf_resnet_stage_channels(const cf_resnet *r, int stage);
/* Map size of a stage's output for an input of h x w; false if the image is too small. */
bool cf_resnet_stage_size(const cf_resnet *r, int stage, int64_t h, int64_t w, int64_t *oh, int64_t *ow);

/* Arena bytes the forward takes besides the caller's stage outputs (released before it returns). */
size_t cf_resnet_scratch_bytes(const cf_resnet *r, int64_t n, int64_t h, int64_t w);
/* x[n, h, w, 3] (channels-last) -> stage_out[s][n, hs, ws, cs] for every stage. */
void cf_resnet_forward(const cf_resnet *r, const float *x, int64_t n, int64_t h, int64_t w, float *const *stage_out,
                       cf_arena *scratch);

#endif
