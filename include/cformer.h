/* cformer: Hugging Face transformer pipelines in C.
 *
 * This header is the whole public API. Every fallible call returns a cf_status
 * and, when it fails, fills the caller's cf_error with a message a person can
 * act on. Handles are opaque; every open or load call has a matching free. */
#ifndef CFORMER_H
#define CFORMER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_status {
    CF_OK = 0,
    CF_ERR_INVALID_ARG,  /* the caller passed something malformed */
    CF_ERR_IO,           /* a file or network operation failed */
    CF_ERR_FORMAT,       /* a file's contents are malformed */
    CF_ERR_UNSUPPORTED,  /* valid, but not something cformer implements */
    CF_ERR_NOT_FOUND,    /* a model, file, tensor or key does not exist */
    CF_ERR_NOMEM,        /* an allocation failed or a limit was exceeded */
    CF_ERR_SHAPE,        /* tensor shapes disagree */
    CF_ERR_INTERNAL      /* a bug in cformer */
} cf_status;

#define CF_ERROR_MSG_MAX 1024

typedef struct cf_error {
    cf_status status;
    char message[CF_ERROR_MSG_MAX];
} cf_error;

/* Library version, e.g. "0.1.0". */
const char *cf_version(void);

/* Name of a status code, e.g. "CF_ERR_FORMAT". */
const char *cf_status_name(cf_status status);

/* ---------------------------------------------------------------- tokenizers ---- */

typedef struct cf_tokenizer cf_tokenizer;

/* Load from a model folder: tokenizer.json, else the legacy files (vocab.txt,
 * vocab.json + merges.txt, *.model / *.spm), with tokenizer_config.json and
 * special_tokens_map.json. */
cf_status cf_tokenizer_load(const char *dir, cf_tokenizer **out, cf_error *err);
/* Same, but ignore tokenizer.json and build from the legacy files alone. */
cf_status cf_tokenizer_load_legacy(const char *dir, cf_tokenizer **out, cf_error *err);
/* The target-language side of a translation folder: Marian's target.spm with the vocab.json
 * ids, to encode target text (labels) and decode generated ids. A folder without target.spm
 * has one tokenizer for both sides: same as cf_tokenizer_load. */
cf_status cf_tokenizer_load_target(const char *dir, cf_tokenizer **out, cf_error *err);
/* Load from a path: a folder (as cf_tokenizer_load), a tokenizer.json file (with the configs
 * beside it), or a llama2.c tokenizer file (tokenizer.bin / tok512.bin). */
cf_status cf_tokenizer_load_file(const char *path, cf_tokenizer **out, cf_error *err);
void cf_tokenizer_free(cf_tokenizer *tok);

typedef enum cf_truncation_strategy {
    CF_TRUNCATE_NONE = 0,
    CF_TRUNCATE_LONGEST_FIRST,
    CF_TRUNCATE_ONLY_FIRST,
    CF_TRUNCATE_ONLY_SECOND
} cf_truncation_strategy;

typedef enum cf_padding_strategy { CF_PAD_NONE = 0, CF_PAD_LONGEST, CF_PAD_MAX_LENGTH } cf_padding_strategy;

typedef struct cf_encode_options {
    int add_special_tokens;            /* 1 (default when zero-initialised via cf_encode_options_default) */
    cf_truncation_strategy truncation;
    int64_t max_length;                /* 0 = no limit */
    int64_t stride;                    /* overlap of overflowing windows */
    int return_overflowing;            /* keep the windows cut off by truncation */
    cf_padding_strategy padding;
    int pad_left;                      /* pad on the left instead of the right */
    int64_t pad_to_multiple_of;
} cf_encode_options;

cf_encode_options cf_encode_options_default(void);

typedef struct cf_encoding {
    size_t n;
    int64_t *ids;
    int64_t *type_ids;
    char **tokens;
    int64_t (*offsets)[2];     /* [start, end) in code points of the caller's string */
    int64_t *special_mask;
    int64_t *attention_mask;
    int64_t *word_ids;         /* -1 where Python has None */
    int64_t *sequence_ids;     /* -1 where Python has None */
    size_t n_overflowing;
    struct cf_encoding *overflowing;
} cf_encoding;

cf_status cf_tokenizer_encode(const cf_tokenizer *tok, const char *text, const cf_encode_options *opt,
                              cf_encoding *out, cf_error *err);
cf_status cf_tokenizer_encode_pair(const cf_tokenizer *tok, const char *text, const char *pair,
                                   const cf_encode_options *opt, cf_encoding *out, cf_error *err);
/* Encodes n texts (pairs may be NULL) on the library thread pool; padding applies across the batch. */
cf_status cf_tokenizer_encode_batch(const cf_tokenizer *tok, const char *const *texts, const char *const *pairs,
                                    size_t n, const cf_encode_options *opt, cf_encoding *out, cf_error *err);
void cf_encoding_free(cf_encoding *enc);

/* Decoded text; caller frees with free(). */
cf_status cf_tokenizer_decode(const cf_tokenizer *tok, const int64_t *ids, size_t n, int skip_special_tokens,
                              char **out, cf_error *err);
/* transformers' convert_tokens_to_string: the tokenizer's decoder applied to token strings (as
 * cf_encoding.tokens holds them), joined; without a decoder the tokens are concatenated.
 * Caller frees *out with free(). */
cf_status cf_tokenizer_tokens_to_string(const cf_tokenizer *tok, const char *const *tokens, size_t n, char **out,
                                        cf_error *err);
int64_t cf_tokenizer_token_to_id(const cf_tokenizer *tok, const char *token); /* -1 if absent */
const char *cf_tokenizer_id_to_token(const cf_tokenizer *tok, int64_t id);    /* NULL if absent */
size_t cf_tokenizer_vocab_size(const cf_tokenizer *tok);                      /* incl. added tokens */

/* Special tokens by role, from special_tokens_map.json / tokenizer_config.json: role is one of
 * "bos_token", "eos_token", "pad_token", "mask_token", "cls_token", "sep_token", "unk_token".
 * The text (NULL if the folder names none) and its id (-1 if none or not in the vocabulary). */
const char *cf_tokenizer_special_token(const cf_tokenizer *tok, const char *role);
int64_t cf_tokenizer_special_id(const cf_tokenizer *tok, const char *role);
/* tokenizer_config.json model_max_length, 0 when absent. */
int64_t cf_tokenizer_model_max_length(const cf_tokenizer *tok);
/* "##" for WordPiece (a BPE model's prefix if it has one), else NULL. */
const char *cf_tokenizer_continuing_subword_prefix(const cf_tokenizer *tok);
/* 1 if id is a special added token (what skip_special_tokens drops). */
int cf_tokenizer_is_special_id(const cf_tokenizer *tok, int64_t id);
/* 1 if tokenizer_config.json / tokenizer.json pad on the left. */
int cf_tokenizer_pads_left(const cf_tokenizer *tok);
/* How many special tokens the post-processor adds to one text (is_pair 0) or a pair (1). */
size_t cf_tokenizer_num_special_tokens_to_add(const cf_tokenizer *tok, int is_pair);

/* ----------------------------------------------------------------- pipelines ---- */

typedef struct cf_pipeline cf_pipeline;
typedef struct cf_result cf_result;

/* Open a pipeline for `task` ("text-classification", "ner", "question-answering", ...;
 * the Python pipeline's task names and aliases). `model` is a folder or a Hub id in the
 * HF cache; NULL picks the task's default model. `options_json` may be NULL or a JSON
 * object of load options ({"dtype": "f32", "threads": 2, "tokenizer": PATH}). */
cf_status cf_pipeline_open(const char *task, const char *model, const char *options_json, cf_pipeline **out,
                           cf_error *err);
void cf_pipeline_free(cf_pipeline *p);

/* Run on a Hugging Face Inference API body: {"inputs": ..., "parameters": {...}}, where the
 * parameters are the Python pipeline's keyword arguments. Safe to call from several threads
 * on one pipeline. */
cf_status cf_pipeline_run(cf_pipeline *p, const char *payload_json, cf_result **out, cf_error *err);

/* Same, and hand out generated text as it is produced (text-generation; other tasks just
 * run): on_text gets successive pieces of the first sequence's new text, each ending on a
 * whole UTF-8 character. The final result is returned as by cf_pipeline_run. */
typedef void (*cf_stream_fn)(void *ctx, const char *text, size_t len);
cf_status cf_pipeline_run_stream(cf_pipeline *p, const char *payload_json, cf_stream_fn on_text, void *ctx,
                                 cf_result **out, cf_error *err);

/* The result as JSON, with the keys, nesting and order of the Python pipeline's output.
 * The string belongs to the result. */
const char *cf_result_json(const cf_result *r);
void cf_result_free(cf_result *r);

/* The task this pipeline runs (canonical name) and the model folder it loaded. */
const char *cf_pipeline_task(const cf_pipeline *p);
const char *cf_pipeline_model_dir(const cf_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif /* CFORMER_H */
