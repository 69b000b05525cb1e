/* Vision models: ViT and ConvNeXT image classifiers, DETR (object detection and panoptic
 * segmentation) and GLPN (depth). They take pixel_values [n, 3, h, w] (channels first, as the
 * image processors produce them) and keep activations channels-last inside. Every model can
 * report named intermediate tensors through a tap, so tests compare them with the reference
 * without extra memory in normal runs. */
#ifndef CF_MODELS_VISION_H
#define CF_MODELS_VISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/config.h"
#include "io/safetensors.h"

/* A named tensor inside a model: `n` items of `rows` x `cols` floats, row-major. For feature
 * maps rows = h*w and cols = channels (channels-last) and is_map is true with h and w set;
 * token sequences have is_map false. */
typedef struct cf_vision_tensor {
    const char *name; /* "hidden_states.1", "logits", ... the names of the reference tensors */
    const float *data;
    int64_t n, rows, cols;
    bool is_map;
    int64_t h, w;
} cf_vision_tensor;

typedef void (*cf_vision_tap_fn)(void *ctx, const cf_vision_tensor *t);

typedef struct cf_vision_tap {
    cf_vision_tap_fn fn; /* NULL: no taps */
    void *ctx;
} cf_vision_tap;

/* Report a tensor when the tap is set. */
void cf_vision_emit(const cf_vision_tap *tap, const char *name, const float *data, int64_t n, int64_t rows,
                    int64_t cols);
void cf_vision_emit_map(const cf_vision_tap *tap, const char *name, const float *data, int64_t n, int64_t h,
                        int64_t w, int64_t c);

/* Grow an arena to at least `bytes` (allocates only when it grows). */
cf_status cf_vision_arena_reserve(cf_arena *a, size_t bytes, cf_error *err);
/* Bytes of `count` floats, rounded up to the arena alignment. */
size_t cf_vision_floats_bytes(int64_t count);

/* Check pixel_values dimensions against what a model accepts. */
cf_status cf_vision_check_input(const char *model, int64_t n, int64_t channels, int64_t h, int64_t w,
                                int64_t want_channels, int64_t min_side, cf_error *err);

/* Integer array config key of exactly n entries, each in [lo, hi]. */
cf_status cf_vision_config_ints(const cf_config *cfg, const char *key, size_t n, int64_t lo, int64_t hi,
                                int64_t *out, cf_error *err);

/* "<prefix><name>" printf helper for weight names (returns buf). */
const char *cf_vision_name(char *buf, size_t size, const char *fmt, ...) CF_PRINTF(3, 4);

/* ---------------------------------------------------------------- image classification ---- */

typedef struct cf_image_classifier cf_image_classifier;

/* Is config.json's model_type an image classifier family here (vit, convnext)? */
bool cf_image_classifier_supports(const cf_config *config);
cf_status cf_image_classifier_load(const char *dir, const cf_config *config, cf_image_classifier **out,
                                   cf_error *err);
void cf_image_classifier_free(cf_image_classifier *m);
int64_t cf_image_classifier_num_labels(const cf_image_classifier *m);
/* logits[n, num_labels] for pixel_values[n, 3, h, w]. */
cf_status cf_image_classifier_forward(cf_image_classifier *m, const float *pixel_values, int64_t n, int64_t h,
                                      int64_t w, const cf_vision_tap *tap, float *logits, cf_error *err);

/* The families behind it. */
typedef struct cf_vit cf_vit;
cf_status cf_vit_load(const cf_safetensors *st, const cf_config *config, cf_vit **out, cf_error *err);
void cf_vit_free(cf_vit *m);
int64_t cf_vit_num_labels(const cf_vit *m);
cf_status cf_vit_forward(cf_vit *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                         const cf_vision_tap *tap, float *logits, cf_error *err);

typedef struct cf_convnext cf_convnext;
cf_status cf_convnext_load(const cf_safetensors *st, const cf_config *config, cf_convnext **out, cf_error *err);
void cf_convnext_free(cf_convnext *m);
int64_t cf_convnext_num_labels(const cf_convnext *m);
cf_status cf_convnext_forward(cf_convnext *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                              const cf_vision_tap *tap, float *logits, cf_error *err);

/* ------------------------------------------------------------------------- depth ---- */

/* GLPN (Kim et al., "Global-Local Path Networks for Monocular Depth Estimation"). */
typedef struct cf_glpn cf_glpn;
bool cf_glpn_supports(const cf_config *config);
cf_status cf_glpn_load(const char *dir, const cf_config *config, cf_glpn **out, cf_error *err);
void cf_glpn_free(cf_glpn *m);
/* Sides of the input must be multiples of this (the encoder's total stride). */
int64_t cf_glpn_size_multiple(const cf_glpn *m);
/* predicted_depth[n, h, w] for pixel_values[n, 3, h, w]. */
cf_status cf_glpn_forward(cf_glpn *m, const float *pixel_values, int64_t n, int64_t h, int64_t w,
                          const cf_vision_tap *tap, float *depth, cf_error *err);

#endif
