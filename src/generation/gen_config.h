/* Generation settings, as transformers' GenerationConfig: built from its defaults, then
 * config.json, then generation_config.json, then task_specific_params[task], then the call's
 * keyword arguments (the Python names). */
#ifndef CF_GENERATION_GEN_CONFIG_H
#define CF_GENERATION_GEN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/config.h"

typedef enum cf_early_stopping {
    CF_EARLY_STOP_FALSE = 0, /* heuristic: stop when no beam can beat the worst kept hypothesis */
    CF_EARLY_STOP_TRUE,      /* stop once num_beams hypotheses are finished */
    CF_EARLY_STOP_NEVER      /* canonical beam search: only stop when nothing can improve */
} cf_early_stopping;

typedef struct cf_token_list {
    int64_t *ids;
    size_t n;
} cf_token_list;

typedef struct cf_gen_config {
    int64_t max_length;         /* total length incl. prompt (default 20) */
    int64_t max_new_tokens;     /* -1 = unset; overrides max_length when set */
    int64_t min_length;         /* incl. prompt */
    int64_t min_new_tokens;     /* -1 = unset */
    bool do_sample;
    int64_t num_beams;
    int64_t num_return_sequences;
    double temperature, top_p, typical_p, repetition_penalty, length_penalty;
    int64_t top_k;
    int64_t no_repeat_ngram_size;
    cf_early_stopping early_stopping;
    cf_token_list eos_token_id;  /* one or several */
    int64_t pad_token_id;        /* -1 = unset */
    int64_t bos_token_id;        /* -1 = unset */
    int64_t decoder_start_token_id;
    int64_t forced_bos_token_id;
    cf_token_list forced_eos_token_id;
    cf_token_list *bad_words_ids; /* sequences */
    size_t n_bad_words;
    char **stop_strings;
    size_t n_stop_strings;
    bool has_seed;
    uint64_t seed;
} cf_gen_config;

/* transformers' GenerationConfig() defaults. */
void cf_gen_config_defaults(cf_gen_config *g);
void cf_gen_config_free(cf_gen_config *g);
cf_status cf_gen_config_copy(cf_gen_config *dst, const cf_gen_config *src, cf_error *err);

/* Apply the generation keys of a JSON object. strict: an unknown key, or a known feature
 * cformer does not implement set to a non-default value, is an error naming the key
 * (call parameters); otherwise unknown keys are ignored (config files). `what` names the
 * source in messages. Wrong types are always errors. */
cf_status cf_gen_config_apply_json(cf_gen_config *g, const cJSON *obj, bool strict, const char *what,
                                   cf_error *err);

/* True when `key` is one of the generation keyword arguments this module understands. */
bool cf_gen_config_is_key(const char *key);

/* Model folder layering: defaults, config.json, generation_config.json,
 * config.json task_specific_params[task] (when task is not NULL). */
cf_status cf_gen_config_load(cf_gen_config *g, const char *model_dir, const cf_config *model_config,
                             const char *task, cf_error *err);

/* Resolve lengths for a prompt of `prompt_len` tokens: max_new_tokens wins over max_length,
 * as generate() does. */
int64_t cf_gen_config_max_length(const cf_gen_config *g, int64_t prompt_len);

/* Check the settings make sense together (e.g. num_return_sequences <= num_beams). */
cf_status cf_gen_config_validate(const cf_gen_config *g, cf_error *err);

#endif
