/* Token embeddings of the BERT family: word + position (+ token type) rows, summed, then an
 * optional LayerNorm. Position ids either count from 0 (BERT, DistilBERT) or from
 * padding_idx+1 over non-padding tokens, padding keeping padding_idx (RoBERTa). */
#ifndef CF_NN_EMBEDDINGS_H
#define CF_NN_EMBEDDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "nn/norm.h"
#include "nn/weights.h"

typedef enum cf_position_ids {
    CF_POSITIONS_FROM_ZERO = 0,
    CF_POSITIONS_AFTER_PADDING /* cumsum(ids != pad) * (ids != pad) + pad */
} cf_position_ids;

typedef struct cf_text_embeddings {
    int64_t vocab, dim, n_positions, n_types; /* n_types 0: no token type table */
    cf_weight word, position, token_type;
    bool has_norm;
    cf_norm norm;
    cf_position_ids position_ids;
    int64_t padding_idx;
} cf_text_embeddings;

void cf_text_embeddings_free(cf_text_embeddings *e);

/* Largest sequence length the position table allows. */
int64_t cf_text_embeddings_max_len(const cf_text_embeddings *e);

/* out[batch*seq, dim]; type_ids may be NULL (all 0). Rejects ids outside the tables. `scratch`
 * holds batch*seq*dim floats before the norm. */
cf_status cf_text_embeddings_forward(const cf_text_embeddings *e, const int64_t *ids, const int64_t *type_ids,
                                     int64_t batch, int64_t seq, float *scratch, float *out, cf_error *err);

#endif
