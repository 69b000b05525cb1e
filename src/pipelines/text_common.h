/* What the text pipelines share: the tokenizer and encoder of a model folder, the tokenizer's
 * special tokens and limits from tokenizer_config.json, float32 score maths as numpy does it,
 * and the tokenizer keyword arguments the Python pipelines pass through. */
#ifndef CF_PIPELINES_TEXT_COMMON_H
#define CF_PIPELINES_TEXT_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "models/encoder.h"
#include "pipelines/pipeline.h"

typedef struct cf_text_model {
    cf_tokenizer *tok;
    cf_encoder *enc;
    const cf_config *config;  /* the pipeline's config.json */
    int64_t model_max_length; /* tokenizer_config.json; INT64_MAX when unset */
    bool pad_left;            /* padding_side == "left" */
    int64_t cls_id, sep_id, pad_id, mask_id, unk_id; /* -1 when the tokenizer has none */
    char mask_token[64];
} cf_text_model;

/* Load tokenizer (the "tokenizer" load option, else the model folder) and encoder with `head`. */
cf_status cf_text_model_open(const cf_pipeline *p, cf_encoder_head head, cf_text_model **out, cf_error *err);
void cf_text_model_free(cf_text_model *tm);

/* One sequence through the model (reserving arena as needed). lm_rows as in cf_encoder_input. */
cf_status cf_text_model_forward(cf_text_model *tm, const cf_encoding *enc, const int64_t *lm_rows, int64_t n_lm_rows,
                                cf_encoder_output *out, cf_error *err);

/* Tokenizer keyword arguments passed through the pipeline's parameters: truncation,
 * max_length, padding, add_special_tokens, stride. Keys not present leave opt unchanged. */
cf_status cf_text_tokenizer_kwargs(const cf_text_model *tm, const cJSON *params, cf_encode_options *opt,
                                   cf_error *err);
extern const char *const cf_text_tokenizer_kwarg_names[]; /* NULL-terminated */

/* label of class i from config.json id2label ("LABEL_i" when absent). */
const char *cf_text_label(const cf_text_model *tm, int64_t i, char *buf, size_t size);

/* numpy float32 maths: softmax over n, sigmoid in place, argmax (first of ties). */
void cf_softmax_f32(const float *x, float *out, int64_t n);
void cf_sigmoid_f32(const float *x, float *out, int64_t n);
int64_t cf_argmax_f32(const float *x, int64_t n);

/* A string input: inputs must be a JSON string (names `what` in the error). */
cf_status cf_text_input_string(const cJSON *v, const char *what, const char **out, cf_error *err);

/* Code-point slice [start, end) of UTF-8 text into a fresh string (caller frees). */
char *cf_utf8_slice(const char *text, int64_t start, int64_t end);

/* ---- tokenizer facts the pipelines need that the public tokenizer API does not give yet ---- */

/* The model's continuing-subword prefix ("##" for WordPiece), or "" when it has none. */
const char *cf_text_subword_prefix(const cf_text_model *tm);
/* transformers' convert_tokens_to_string for a fast tokenizer: its decoder over token strings
 * (which need not be vocabulary entries), concatenated. Caller frees. */
cf_status cf_text_tokens_to_string(const cf_text_model *tm, const char *const *tokens, size_t n, char **out,
                                   cf_error *err);

#endif
