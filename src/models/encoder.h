/* Encoder-only transformers of the BERT family (BERT, DistilBERT, RoBERTa) and their heads.
 * config.json drives everything; weights are read under their Hugging Face names, with or
 * without the base model prefix ("bert.", "distilbert.", "roberta."). Activations live in an
 * arena sized at load (and grown only by cf_encoder_reserve), so a forward does no malloc. */
#ifndef CF_MODELS_ENCODER_H
#define CF_MODELS_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"

typedef enum cf_encoder_head {
    CF_HEAD_BASE = 0,                /* XModel: last_hidden_state (+ pooler_output when present) */
    CF_HEAD_SEQUENCE_CLASSIFICATION, /* logits [batch, num_labels] */
    CF_HEAD_TOKEN_CLASSIFICATION,    /* logits [batch, seq, num_labels] */
    CF_HEAD_QUESTION_ANSWERING,      /* logits [batch, seq, 2]: start, end */
    CF_HEAD_MASKED_LM                /* logits [rows, vocab] at the requested rows */
} cf_encoder_head;

typedef struct cf_encoder cf_encoder;

/* Called after the embeddings (index 0) and after every layer (index 1..n_layers) with the
 * hidden states [batch*seq, hidden]; lets tests and tools see inside without extra memory. */
typedef void (*cf_encoder_hidden_fn)(void *ctx, int index, const float *hidden, int64_t rows, int64_t dim);

typedef struct cf_encoder_input {
    int64_t batch, seq;
    const int64_t *input_ids;      /* [batch*seq] */
    const int64_t *attention_mask; /* [batch*seq] 1 keep / 0 padding, or NULL (all 1) */
    const int64_t *token_type_ids; /* [batch*seq] or NULL (all 0); ignored by DistilBERT */
    const int64_t *lm_rows;        /* masked LM: flat rows (b*seq+i) to score, or NULL for all */
    int64_t n_lm_rows;
    cf_encoder_hidden_fn on_hidden;
    void *on_hidden_ctx;
} cf_encoder_input;

/* Pointers into the model's arena, valid until the next forward or reserve. */
typedef struct cf_encoder_output {
    const float *last_hidden_state; /* [batch, seq, hidden] */
    const float *pooler_output;     /* [batch, hidden] or NULL */
    const float *logits;            /* per head, see cf_encoder_head; NULL for the base model */
    int64_t logits_rows, logits_cols;
} cf_encoder_output;

/* Is config.json's model_type one of the encoder families? */
bool cf_encoder_supports(const cf_config *config);

/* Load model.safetensors from dir for the given head. */
cf_status cf_encoder_load(const char *dir, const cf_config *config, cf_encoder_head head, cf_encoder **out,
                          cf_error *err);
void cf_encoder_free(cf_encoder *m);

const char *cf_encoder_family(const cf_encoder *m); /* "bert", "distilbert", "roberta" */
cf_encoder_head cf_encoder_head_kind(const cf_encoder *m);
int64_t cf_encoder_hidden_size(const cf_encoder *m);
int64_t cf_encoder_num_layers(const cf_encoder *m);
int64_t cf_encoder_vocab_size(const cf_encoder *m);
int64_t cf_encoder_num_labels(const cf_encoder *m); /* classification heads */
int64_t cf_encoder_max_tokens(const cf_encoder *m); /* longest sequence the positions allow */
bool cf_encoder_uses_token_types(const cf_encoder *m);

/* Make the arena large enough for a batch of this shape (allocates only when it grows). */
cf_status cf_encoder_reserve(cf_encoder *m, int64_t batch, int64_t seq, int64_t n_lm_rows, cf_error *err);

/* Run the model. Fails (without allocating) if the arena is smaller than the batch needs:
 * call cf_encoder_reserve first. Not thread-safe on one model: callers serialise. */
cf_status cf_encoder_forward(cf_encoder *m, const cf_encoder_input *in, cf_encoder_output *out, cf_error *err);

#endif
