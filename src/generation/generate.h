/* The decoding loop of transformers' generate() (4.35.2): greedy search, multinomial
 * sampling and beam search over any cf_lm (models/lm.h), with the logits processors of
 * logits_process.h applied in generate()'s order. */
#ifndef CF_GENERATION_GENERATE_H
#define CF_GENERATION_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "generation/gen_config.h"
#include "models/lm.h"

/* Called for every new token of sequence `seq` as it is chosen (greedy and sampling; beam
 * search calls it with the returned sequences' tokens once they are final). Returning true
 * ends that sequence (stop strings). */
typedef bool (*cf_gen_token_fn)(void *ctx, int64_t seq, int64_t token);

typedef void (*cf_gen_logits_fn)(void *ctx, float *row, int64_t vocab, const int64_t *hist, int64_t len);

typedef struct cf_gen_request {
    const cf_gen_config *cfg;
    int64_t n_inputs;
    const int64_t *const *prompts; /* decoder prompts: the text's ids (decoder-only) or the
                                      decoder start ids (encoder-decoder) */
    const int64_t *prompt_lens;
    /* encoder input, handed to the model as is (encoder-decoders) */
    int64_t enc_len;
    const int64_t *enc_ids, *enc_mask;
    const float *enc_features;
    int64_t enc_features_shape[2];
    cf_gen_token_fn on_token;
    void *ctx;
    /* Model-specific logits rules (Whisper's), run on each row after the standard processors,
     * before warping and selection; hist is the row's whole history of len tokens. May be NULL. */
    cf_gen_logits_fn process_logits;
    void *process_ctx;
} cf_gen_request;

typedef struct cf_gen_result {
    int64_t n_seqs;       /* n_inputs * num_return_sequences, grouped by input, best first */
    int64_t **ids;        /* prompt (without padding) followed by the new tokens */
    int64_t *lens;
    int64_t *prompt_lens; /* where the new tokens start in ids[i] */
    double *scores;       /* beam search: each sequence's length-normalised score; else NULL */
} cf_gen_result;

cf_status cf_generate(const cf_lm *lm, const cf_gen_request *req, cf_gen_result *out, cf_error *err);
void cf_gen_result_free(cf_gen_result *r);

#endif
