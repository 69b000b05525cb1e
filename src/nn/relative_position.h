/* T5's relative position bias (Raffel et al. 2020, section 2.1): a learned scalar per head and
 * per bucket of the key-minus-query distance, added to the attention logits. Half the buckets
 * (all of them when causal) count exact small distances; the rest cover log-spaced ranges up to
 * max_distance, farther distances share the last bucket. Bidirectional attention (the encoder)
 * gives positive and negative distances their own halves; causal attention (the decoder) only
 * looks back. One table [num_buckets, n_heads] lives in the first layer; every layer adds the
 * same bias. */
#ifndef CF_NN_RELATIVE_POSITION_H
#define CF_NN_RELATIVE_POSITION_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "nn/weights.h"

typedef struct cf_relative_position {
    int n_heads, num_buckets, max_distance;
    bool bidirectional;
    cf_weight table; /* [num_buckets, n_heads] (nn.Embedding) */
} cf_relative_position;

/* transformers' T5Attention._relative_position_bucket, with its float32 arithmetic.
 * relative = key position - query position. */
int cf_relative_position_bucket(int64_t relative, bool bidirectional, int num_buckets, int max_distance);

/* "<name>" [num_buckets, n_heads]; num_buckets >= 2 (>= 4 when bidirectional), max_distance
 * greater than the exact range. */
cf_status cf_relative_position_load(cf_relative_position *r, const cf_safetensors *st, const char *name,
                                    int n_heads, int num_buckets, int max_distance, bool bidirectional,
                                    cf_error *err);
void cf_relative_position_free(cf_relative_position *r);

/* bias[h, i, j] for queries at positions q_start + i (i < n_q) and keys at positions j (j < n_kv):
 * the layout cf_attention_f32 takes. */
void cf_relative_position_bias(const cf_relative_position *r, int64_t q_start, int64_t n_q, int64_t n_kv,
                               float *bias);

#endif
