#include "nn/embeddings.h"

#include <string.h>

#include "kernels/kernels.h"

void cf_text_embeddings_free(cf_text_embeddings *e)
{
    cf_weight_free(&e->word);
    cf_weight_free(&e->position);
    cf_weight_free(&e->token_type);
    if (e->has_norm)
        cf_norm_free(&e->norm);
}

int64_t cf_text_embeddings_max_len(const cf_text_embeddings *e)
{
    return e->position_ids == CF_POSITIONS_AFTER_PADDING ? e->n_positions - e->padding_idx - 1 : e->n_positions;
}

static cf_status check_ids(const cf_text_embeddings *e, const int64_t *ids, const int64_t *type_ids, int64_t n,
                           cf_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= e->vocab)
            return cf_fail(err, CF_ERR_INVALID_ARG, "token id %lld at position %lld is outside the vocabulary [0, %lld)",
                           (long long)ids[i], (long long)i, (long long)e->vocab);
        int64_t t = type_ids ? type_ids[i] : 0;
        if (t < 0 || (t >= e->n_types && !(t == 0 && e->n_types == 0)))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "token type id %lld at position %lld is outside [0, %lld) (type_vocab_size)",
                           (long long)t, (long long)i, (long long)(e->n_types ? e->n_types : 1));
    }
    return CF_OK;
}

cf_status cf_text_embeddings_forward(const cf_text_embeddings *e, const int64_t *ids, const int64_t *type_ids,
                                     int64_t batch, int64_t seq, float *scratch, float *out, cf_error *err)
{
    if (seq > cf_text_embeddings_max_len(e))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "sequence of %lld tokens is longer than the model's %lld positions (max_position_embeddings)",
                       (long long)seq, (long long)cf_text_embeddings_max_len(e));
    CF_TRY(check_ids(e, ids, type_ids, batch * seq, err));
    int64_t d = e->dim;
    float *sum = e->has_norm ? scratch : out;
    for (int64_t b = 0; b < batch; b++) {
        int64_t running = 0; /* non-padding tokens seen so far in this sequence */
        for (int64_t i = 0; i < seq; i++) {
            int64_t t = b * seq + i, pos = i;
            if (e->position_ids == CF_POSITIONS_AFTER_PADDING) {
                bool real = ids[t] != e->padding_idx;
                running += real;
                pos = real ? running + e->padding_idx : e->padding_idx;
            }
            float *row = sum + t * d;
            memcpy(row, e->word.data + ids[t] * d, (size_t)d * sizeof(float));
            if (e->n_types > 0) /* the order transformers sums in: word + type, then + position */
                cf_add(row, e->token_type.data + (type_ids ? type_ids[t] : 0) * d, d);
            cf_add(row, e->position.data + pos * d, d);
        }
    }
    if (e->has_norm)
        cf_norm_forward(&e->norm, sum, out, batch * seq);
    return CF_OK;
}
