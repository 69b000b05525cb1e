/* Whisper's decoding rules, as transformers 4.35.2 WhisperForConditionalGeneration.generate
 * applies them on top of generate():
 *   the decoder starts from <|startoftranscript|>; forced_decoder_ids put <|lang|> at step 1
 *   (none when no language is given: the model picks the token, which is how it names the
 *   language), <|task|> at step 2 and <|notimestamps|> next unless timestamps are asked;
 *   SuppressTokens (suppress_tokens), SuppressTokensAtBegin (begin_suppress_tokens at the first
 *   free step), ForceTokens, and with timestamps WhisperTimeStampLogitsProcessor: the first free
 *   step is a timestamp (timestamp_begin), timestamps come in pairs, the initial one is at most
 *   max_initial_timestamp_index, and when the timestamps' total probability beats every text
 *   token only a timestamp may follow.
 * The settings come from generation_config.json (lang_to_id, task_to_id, no_timestamps_token_id,
 * ...); the rules run through cf_gen_request.process_logits, so greedy and beam search both
 * see them. */
#ifndef CF_GENERATION_WHISPER_DECODE_H
#define CF_GENERATION_WHISPER_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "generation/gen_config.h"
#include "models/lm.h"

typedef struct cf_whisper_lang {
    char code[16]; /* "en" */
    int64_t id;    /* of "<|en|>" */
} cf_whisper_lang;

typedef struct cf_whisper_gen_info {
    int64_t decoder_start, eos, no_timestamps, max_initial_timestamp_index; /* -1: none */
    int64_t transcribe_id, translate_id;                                  /* -1: none */
    bool has_lang_to_id, has_task_to_id;
    bool english_only; /* generation_config.json "is_multilingual": false (the *.en models) */
    cf_token_list suppress, begin_suppress;
    cf_whisper_lang *langs;
    size_t n_langs;
    /* forced_decoder_ids: (step, token or -1 for "free"); config.json's list wins over
     * generation_config.json's, as generate() reads the legacy one first */
    int64_t (*forced)[2];
    size_t n_forced;
} cf_whisper_gen_info;

/* Read generation_config.json (else config.json) of a Whisper model folder. */
cf_status cf_whisper_gen_info_load(cf_whisper_gen_info *w, const char *model_dir, cf_error *err);
void cf_whisper_gen_info_free(cf_whisper_gen_info *w);

/* The id of a language given as generate() takes it (case-insensitive): a token "<|en|>", a
 * name "english" (or one of Whisper's aliases: "castilian", "flemish", ...), or a code "en".
 * Fails naming the language when it is none of those or the model has no token for it. */
cf_status cf_whisper_language_id(const cf_whisper_gen_info *w, const char *language, int64_t *id, cf_error *err);
/* "en" for the id of "<|en|>", NULL when id is not a language token of the model. */
const char *cf_whisper_language_code(const cf_whisper_gen_info *w, int64_t id);
/* Whisper's name of a language code ("en" -> "english"), NULL when the code is not one of its
 * 99 languages (tokenization_whisper.LANGUAGES). */
const char *cf_whisper_language_name(const char *code);

typedef struct cf_whisper_request {
    const char *language;   /* NULL: free (detected) */
    const char *task;       /* "transcribe", "translate" or NULL */
    int multilingual;       /* generate(is_multilingual=): 0 as generation_config.json says, 1 true, -1 false */
    bool return_timestamps;
    const float *features;  /* [n_mels, n_frames] of one 30 s window */
    int64_t n_mels, n_frames;
} cf_whisper_request;

/* Generate one window's tokens (starting with <|startoftranscript|>); *ids malloc'ed. */
cf_status cf_whisper_generate(const cf_lm *lm, const cf_whisper_gen_info *w, const cf_gen_config *cfg,
                              const cf_whisper_request *req, int64_t **ids, int64_t *n, cf_error *err);

#endif
