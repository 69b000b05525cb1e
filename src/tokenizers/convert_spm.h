/* sentencepiece folders -> the tokenizer.json document, as transformers'
 * convert_slow_tokenizer.py builds it, so the ordinary tokenizer.json loader reads them.
 *
 *  - BPE models (Llama's tokenizer.model): LlamaConverter. BPE with byte_fallback and
 *    fuse_unk, merges derived from the pieces (every split of a piece into two pieces, by
 *    piece score), normalizer Prepend "▁" + Replace " " -> "▁" (legacy; tokenizer_config
 *    "legacy": false gives Metaspace prepend_scheme "first" instead), TemplateProcessing
 *    from add_bos_token/add_eos_token, decoders Replace/ByteFallback/Fuse/Strip.
 *  - Unigram models (T5's spiece.model and others): Unigram over the pieces (+ the
 *    <extra_id_N> sentinels for T5), Precompiled charsmap normalizer, and the whitespace
 *    handling of sentencepiece itself (the slow tokenizer): WhitespaceSplit + Metaspace
 *    when the model removes extra whitespace, Metaspace alone otherwise. T5 appends </s>.
 *  - Marian (source.spm + vocab.json): the slow MarianTokenizer. The Unigram model's
 *    "vocab" is vocab.json in id order; its extra key "lattice" holds source.spm's pieces
 *    and scores, which cf_unigram_from_json segments with before mapping each piece string
 *    through "vocab" (a missing one -> <unk>). </s> is appended.
 *
 * Special tokens (<unk>, </s>, ...) become added tokens as the slow tokenizer splits on them. */
#ifndef CF_TOKENIZERS_CONVERT_SPM_H
#define CF_TOKENIZERS_CONVERT_SPM_H

#include <stdbool.h>

#include "core/error.h"

typedef struct cJSON cJSON;

/* True when dir holds a sentencepiece model cf_spm_convert can read (tokenizer.model,
 * spiece.model, source.spm, or another *.model). */
bool cf_spm_folder_has_model(const char *dir);

/* Build the tokenizer.json tree for the sentencepiece model in dir (free with cJSON_Delete).
 * For Marian this is the source side. */
cf_status cf_spm_convert(const char *dir, cJSON **tokenizer_json, cf_error *err);

/* Build the tokenizer.json tree for a sentencepiece BPE model already in memory (Llama form,
 * as for tokenizer.model), with the settings of tokenizer_config.json in `cfg`. */
typedef struct cf_spm_model cf_spm_model;
typedef struct cf_config cf_config;
cf_status cf_spm_convert_bpe_model(const cf_spm_model *m, const cf_config *cfg, cJSON **tokenizer_json,
                                   cf_error *err);

/* Marian's target side: target.spm (its charsmap and pieces) with the ids of vocab.json
 * (target_vocab.json when tokenizer_config says separate_vocabs). Use it to encode target
 * text (labels) and to decode generated ids: vocab ids -> pieces -> "▁" -> " ". */
cf_status cf_spm_convert_target(const char *dir, cJSON **tokenizer_json, cf_error *err);

#endif
