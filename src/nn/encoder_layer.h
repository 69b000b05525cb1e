/* A transformer encoder layer: self-attention and feed-forward sub-blocks, each with a
 * residual connection and a norm, either after the residual (post-LN: BERT, RoBERTa,
 * DistilBERT) or before the sub-block (pre-LN). */
#ifndef CF_NN_ENCODER_LAYER_H
#define CF_NN_ENCODER_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nn/attention.h"
#include "nn/ffn.h"
#include "nn/norm.h"

typedef struct cf_encoder_layer {
    cf_self_attention attn;
    cf_norm attn_norm;
    cf_ffn ffn;
    cf_norm ffn_norm;
    bool pre_norm;
} cf_encoder_layer;

void cf_encoder_layer_free(cf_encoder_layer *l);
/* Arena bytes one forward takes for `tokens` rows (all released before it returns). */
size_t cf_encoder_layer_scratch_bytes(const cf_encoder_layer *l, int64_t tokens);
/* x[batch*seq, hidden] <- layer(x), in place. key_mask as in cf_self_attention_forward. */
void cf_encoder_layer_forward(const cf_encoder_layer *l, float *x, int64_t batch, int64_t seq,
                              const float *key_mask, cf_arena *scratch);

#endif
