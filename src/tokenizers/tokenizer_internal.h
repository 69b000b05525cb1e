/* The in-memory form of tokenizer.json: one tagged struct per component, each with its own
 * parse and apply functions (normalizers.c, pre_tokenizers.c, model_*.c, post_processors.c,
 * decoders.c, added_tokens.c), assembled into the pipeline in tokenizer.c. */
#ifndef CF_TOKENIZERS_INTERNAL_H
#define CF_TOKENIZERS_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cformer.h"
#include "core/error.h"
#include "tokenizers/normalized.h"
#include "tokenizers/vocab.h"

/* ------------------------------------------------------------ JSON helpers */

/* Fetch an optional member of a given type; fails with a message naming `where` and `key`
 * when the member exists with the wrong type. */
cf_status cf_json_string(const cJSON *obj, const char *key, const char *where, const char **out, cf_error *err);
cf_status cf_json_bool(const cJSON *obj, const char *key, const char *where, bool *out, cf_error *err);
cf_status cf_json_int(const cJSON *obj, const char *key, const char *where, int64_t *out, cf_error *err);
cf_status cf_json_array(const cJSON *obj, const char *key, const char *where, const cJSON **out, cf_error *err);
/* A token given as "text" or as {"content": "text", ...}; NULL when neither. */
const char *cf_json_token_text(const cJSON *v);
/* The "type" string of a component object, or an error naming `where`. */
cf_status cf_json_type(const cJSON *obj, const char *where, const char **type, cf_error *err);

/* A "Sequence" component (of normalizers, pre-tokenizers, processors or decoders) holds a list
 * of its own kind; these callbacks parse one item into a zeroed slot, or free one. */
typedef cf_status (*cf_json_item_parse)(const cJSON *j, void *item, cf_error *err);
typedef void (*cf_json_item_free)(void *item);
/* Parse the optional array `key` of the Sequence `where` into a new array of `item_size`-byte
 * items (never NULL, even when empty). *items and *n_items are set before each item is parsed,
 * and a half-parsed item is already counted, so on failure the caller frees them as usual. */
cf_status cf_json_sequence_parse(const cJSON *obj, const char *key, const char *where, size_t item_size,
                                 cf_json_item_parse parse, void **items, size_t *n_items, cf_error *err);
/* Free the n_items items of `items` and the array itself. */
void cf_json_sequence_free(void *items, size_t n_items, size_t item_size, cf_json_item_free free_item);

/* ------------------------------------------------------------ Unicode classes (Rust semantics) */

bool cf_uc_is_whitespace(uint32_t c);   /* char::is_whitespace */
bool cf_uc_is_alphanumeric(uint32_t c); /* char::is_alphanumeric */
bool cf_uc_is_numeric(uint32_t c);      /* char::is_numeric: Nd, Nl, No */
bool cf_uc_is_punctuation(uint32_t c);  /* ASCII punctuation or a P* category */
bool cf_uc_is_control(uint32_t c);      /* Cc/Cf/Cn/Co/Cs except \t \n \r */
bool cf_uc_is_mark_nonspacing(uint32_t c);
bool cf_uc_is_cjk(uint32_t c);
/* The chars of s[0, len): how many, and how many of them in a row at the start and at the end
 * satisfy `pred` (when all do, both runs are the whole string). */
void cf_uc_edge_runs(const char *s, size_t len, bool (*pred)(uint32_t), size_t *nchars, size_t *lead,
                     size_t *trail);
/* Full lowercase mapping as Rust's char::to_lowercase (up to 3 chars); returns the count. */
int cf_uc_lower(uint32_t c, uint32_t out[3]);
/* Uppercase mapping (utf8proc's simple mapping, one char); returns the count. */
int cf_uc_upper(uint32_t c, uint32_t out[3]);

/* ------------------------------------------------------------ regex (PCRE2, Unicode) */

typedef struct cf_regex cf_regex;
cf_status cf_regex_new(const char *pattern, bool literal, cf_regex **out, cf_error *err);
void cf_regex_free(cf_regex *re);
/* Next non-empty match at or after byte `from`; false when none. */
bool cf_regex_next(const cf_regex *re, void **match_data, const char *s, size_t len, size_t from, size_t *mstart,
                   size_t *mend);
void cf_regex_match_data_free(void *match_data);
/* A {"String": s} or {"Regex": r} pattern object of tokenizer.json. */
cf_status cf_parse_pattern(const cJSON *j, const char *where, cf_regex **out, cf_error *err);

/* ------------------------------------------------------------ pre-tokenized string */

typedef struct cf_tok {
    int64_t id;
    uint32_t start, end; /* bytes within the split's normalized text */
    uint32_t word;       /* pre-token within the split (the fast paths make several) */
} cf_tok;

typedef struct cf_toks {
    cf_tok *v;
    size_t n, cap;
} cf_toks;
bool cf_toks_push(cf_toks *t, int64_t id, size_t start, size_t end);

typedef struct cf_split {
    cf_normalized ns;
    bool tokenized; /* toks holds its tokens */
    bool added;     /* an added token matched in the text */
    char *values;   /* NUL-separated token texts when the model reports its matched text (Unigram) */
    cf_toks toks;
    size_t first_word; /* word index of its first pre-token */
} cf_split;

typedef struct cf_pretokenized {
    const char *original; /* the caller's text */
    size_t original_len;
    cf_split *v;
    size_t n, cap;
} cf_pretokenized;

/* A pattern match list over a string: (start, end, is_match) covering it, as Pattern::find_matches. */
typedef struct cf_match {
    size_t start, end;
    bool is_match;
} cf_match;
typedef struct cf_matches {
    cf_match *v;
    size_t n, cap;
} cf_matches;
bool cf_matches_push(cf_matches *m, size_t start, size_t end, bool is_match);

typedef enum cf_split_behavior {
    CF_SPLIT_REMOVED,
    CF_SPLIT_ISOLATED,
    CF_SPLIT_MERGED_WITH_PREVIOUS,
    CF_SPLIT_MERGED_WITH_NEXT,
    CF_SPLIT_CONTIGUOUS
} cf_split_behavior;

/* Split `ns` at `m` with `behavior`, appending the non-empty pieces to `out`. */
cf_status cf_split_by_matches(const cf_normalized *ns, const cf_matches *m, cf_split_behavior behavior,
                              cf_pretokenized *out, cf_error *err);
/* Matches of a char predicate (each matching char is its own match). */
cf_status cf_matches_by_char(const char *s, size_t len, bool (*pred)(uint32_t), cf_matches *out, cf_error *err);
cf_status cf_matches_by_regex(const cf_regex *re, const char *s, size_t len, cf_matches *out, cf_error *err);

cf_status cf_pretokenized_push(cf_pretokenized *p, cf_normalized *ns, cf_error *err); /* takes ns */
void cf_pretokenized_free(cf_pretokenized *p);

/* Replace each match of `re` by `content` (NormalizedString::replace). */
cf_status cf_normalized_replace(cf_normalized *ns, const cf_regex *re, const char *content, cf_error *err);
/* NormalizedString::prepend. */
cf_status cf_normalized_prepend(cf_normalized *ns, const char *s, cf_error *err);

/* ------------------------------------------------------------ normalizers */

typedef enum cf_normalizer_kind {
    CF_NORM_SEQUENCE,
    CF_NORM_BERT,
    CF_NORM_NFC,
    CF_NORM_NFD,
    CF_NORM_NFKC,
    CF_NORM_NFKD,
    CF_NORM_LOWERCASE,
    CF_NORM_UPPERCASE,
    CF_NORM_STRIP_ACCENTS,
    CF_NORM_REPLACE,
    CF_NORM_PREPEND,
    CF_NORM_STRIP,
    CF_NORM_PRECOMPILED
} cf_normalizer_kind;

typedef struct cf_normalizer {
    cf_normalizer_kind kind;
    struct cf_normalizer *items; /* Sequence */
    size_t n_items;
    bool clean_text, handle_chinese_chars, lowercase; /* BertNormalizer */
    int strip_accents;                               /* -1 = follow lowercase */
    cf_regex *pattern;                               /* Replace */
    char *content;                                   /* Replace, Prepend */
    bool strip_left, strip_right;                    /* Strip */
    void *precompiled;                               /* Precompiled (cf_precompiled) */
} cf_normalizer;

cf_status cf_normalizer_parse(const cJSON *j, cf_normalizer *out, cf_error *err);
cf_status cf_normalizer_apply(const cf_normalizer *n, cf_normalized *ns, cf_error *err);
void cf_normalizer_free(cf_normalizer *n);

/* ------------------------------------------------------------ pre-tokenizers */

typedef enum cf_pretok_kind {
    CF_PRE_SEQUENCE,
    CF_PRE_BERT,
    CF_PRE_BYTE_LEVEL,
    CF_PRE_METASPACE,
    CF_PRE_WHITESPACE,
    CF_PRE_WHITESPACE_SPLIT,
    CF_PRE_PUNCTUATION,
    CF_PRE_DIGITS,
    CF_PRE_SPLIT,
    CF_PRE_CHAR_DELIMITER
} cf_pretok_kind;

typedef enum cf_prepend_scheme { CF_PREPEND_ALWAYS, CF_PREPEND_FIRST, CF_PREPEND_NEVER } cf_prepend_scheme;

typedef struct cf_pretokenizer {
    cf_pretok_kind kind;
    struct cf_pretokenizer *items;
    size_t n_items;
    bool add_prefix_space, use_regex;    /* ByteLevel */
    char replacement[8];                 /* Metaspace (UTF-8 of one char), CharDelimiterSplit */
    cf_prepend_scheme prepend_scheme;    /* Metaspace */
    bool split;                          /* Metaspace */
    bool individual_digits;              /* Digits */
    cf_split_behavior behavior;          /* Split, Punctuation */
    bool invert;                         /* Split */
    cf_regex *regex;                     /* Split, Whitespace, ByteLevel */
} cf_pretokenizer;

cf_status cf_pretokenizer_parse(const cJSON *j, cf_pretokenizer *out, cf_error *err);
/* Split every not-yet-tokenized split of `p` further. */
cf_status cf_pretokenizer_apply(const cf_pretokenizer *pt, cf_pretokenized *p, cf_error *err);
void cf_pretokenizer_free(cf_pretokenizer *pt);

cf_status cf_parse_behavior(const cJSON *j, const char *where, cf_split_behavior *out, cf_error *err);
cf_status cf_parse_prepend_scheme(const cJSON *j, const char *where, cf_prepend_scheme *scheme, cf_error *err);

/* The 256 chars GPT-2's byte-level alphabet maps bytes to, and back. */
uint32_t cf_byte_to_char(uint8_t b);
int cf_char_to_byte(uint32_t c); /* -1 if not in the alphabet */

/* ------------------------------------------------------------ models */

typedef enum cf_model_kind { CF_MODEL_WORDPIECE, CF_MODEL_BPE, CF_MODEL_WORDLEVEL, CF_MODEL_UNIGRAM } cf_model_kind;

typedef struct cf_bpe_cache cf_bpe_cache;

typedef struct cf_merge_map {
    uint64_t *keys; /* (left id << 32 | right id) + 1, 0 empty */
    uint32_t *rank, *new_id;
    size_t n_slots, count;
} cf_merge_map;

typedef struct cf_model {
    cf_model_kind kind;
    cf_vocab vocab;
    int64_t unk_id; /* -1 when none */
    char *unk_token;
    /* WordPiece */
    char *continuing_subword_prefix;
    size_t max_input_chars_per_word;
    /* BPE */
    cf_merge_map merges;
    char *end_of_word_suffix;
    bool fuse_unk, byte_fallback, ignore_merges;
    int64_t byte_ids[256]; /* "<0xXX>" ids for byte_fallback, -1 if absent */
    cf_bpe_cache *cache;
    /* Unigram */
    void *unigram;       /* cf_unigram */
    bool unigram_mapped; /* ids/tokens from "vocab", segmentation from "lattice" (Marian) */
    double *scores;
} cf_model;

cf_status cf_model_parse(const cJSON *j, cf_model *out, cf_error *err);
/* Tokens of one pre-tokenized piece (offsets within it). */
cf_status cf_model_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err);
void cf_model_free(cf_model *m);

cf_status cf_wordpiece_parse(const cJSON *j, cf_model *m, cf_error *err);
cf_status cf_wordpiece_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err);
cf_status cf_bpe_parse(const cJSON *j, cf_model *m, cf_error *err);
cf_status cf_bpe_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err);
void cf_bpe_free(cf_model *m);
cf_status cf_wordlevel_parse(const cJSON *j, cf_model *m, cf_error *err);
cf_status cf_wordlevel_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err);
cf_status cf_unigram_model_parse(const cJSON *j, cf_model *m, cf_error *err);
cf_status cf_unigram_model_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err);
void cf_unigram_model_free(cf_model *m);
/* Parses the shared "vocab" object {token: id} of WordPiece/BPE/WordLevel. */
cf_status cf_model_parse_vocab_object(const cJSON *vocab, const char *where, cf_vocab *v, cf_error *err);

/* ------------------------------------------------------------ encodings under construction */

typedef struct cf_seq_range {
    bool present;
    size_t start, end;
} cf_seq_range;

typedef struct cf_enc {
    size_t n, cap;
    int64_t *ids, *type_ids, *special, *attn, *words;
    cf_seq_range ranges[2]; /* token range of sequence 0 (first text) and 1 (pair) */
    const char **tokens; /* point into the tokenizer's strings until finalized */
    int64_t (*offsets)[2];
    struct cf_enc *over;
    size_t n_over;
} cf_enc;

bool cf_enc_push(cf_enc *e, int64_t id, int64_t type_id, const char *token, int64_t start, int64_t end,
                 int64_t special, int64_t word);
/* Append `b` (and combine overflowing windows the way Encoding::merge_with does). */
cf_status cf_enc_merge(cf_enc *a, const cf_enc *b, cf_error *err);
/* The same, but b may be consumed (moved into an empty a). */
cf_status cf_enc_merge_owned(cf_enc *a, cf_enc *b, cf_error *err);
/* Room for n tokens in all. */
bool cf_enc_reserve(cf_enc *e, size_t n);
cf_status cf_enc_copy(cf_enc *dst, const cf_enc *src, cf_error *err);
void cf_enc_set_sequence(cf_enc *e, int seq); /* also on its overflowing windows */
void cf_enc_free(cf_enc *e);
/* Encoding::truncate: keep max_len, the rest becomes overflowing windows. */
cf_status cf_enc_truncate(cf_enc *e, size_t max_len, size_t stride, bool left, cf_error *err);
cf_status cf_truncate_pair(cf_enc *a, cf_enc *b, cf_truncation_strategy strategy, size_t max_length, size_t stride,
                           bool left, cf_error *err);
cf_status cf_enc_pad(cf_enc *e, size_t target, int64_t pad_id, int64_t pad_type_id, const char *pad_token,
                     bool left, cf_error *err);
/* Move into the public form (tokens copied into owned memory). */
cf_status cf_enc_finalize(cf_enc *e, cf_encoding *out, cf_error *err);

/* ------------------------------------------------------------ post-processors */

typedef enum cf_post_kind { CF_POST_SEQUENCE, CF_POST_BERT, CF_POST_ROBERTA, CF_POST_TEMPLATE, CF_POST_BYTE_LEVEL } cf_post_kind;

typedef struct cf_template_piece {
    bool is_sequence; /* $A / $B */
    int seq;          /* 0 = A, 1 = B */
    char *special;    /* special token name */
    int64_t type_id;
} cf_template_piece;

typedef struct cf_special_def {
    char *name;
    int64_t *ids;
    char **tokens;
    size_t n;
} cf_special_def;

typedef struct cf_post {
    cf_post_kind kind;
    struct cf_post *items;
    size_t n_items;
    char *sep, *cls; /* Bert/Roberta token strings */
    int64_t sep_id, cls_id;
    bool trim_offsets, add_prefix_space;
    cf_template_piece *single, *pair;
    size_t n_single, n_pair;
    cf_special_def *specials;
    size_t n_specials;
} cf_post;

cf_status cf_post_parse(const cJSON *j, cf_post *out, cf_error *err);
size_t cf_post_added_tokens(const cf_post *p, bool is_pair);
/* Adds the special tokens; b may be NULL; the result goes to *out (a and b may be consumed). */
cf_status cf_post_process(const cf_post *p, cf_enc *a, cf_enc *b, bool add_special_tokens, cf_enc *out,
                          cf_error *err);
void cf_post_free(cf_post *p);
/* The processing of a tokenizer without post-processor (a and b may be consumed). */
cf_status cf_post_default(cf_enc *a, cf_enc *b, cf_enc *out, cf_error *err);

/* ------------------------------------------------------------ decoders */

typedef enum cf_decoder_kind {
    CF_DEC_SEQUENCE,
    CF_DEC_WORDPIECE,
    CF_DEC_BYTE_LEVEL,
    CF_DEC_METASPACE,
    CF_DEC_BYTE_FALLBACK,
    CF_DEC_FUSE,
    CF_DEC_STRIP,
    CF_DEC_REPLACE,
    CF_DEC_CTC,
    CF_DEC_BPE,
    CF_DEC_SPECIAL_RUNS,
    CF_DEC_CTC_SLOW
} cf_decoder_kind;

typedef struct cf_decoder {
    cf_decoder_kind kind;
    struct cf_decoder *items;
    size_t n_items;
    char *prefix;          /* WordPiece */
    bool cleanup;          /* WordPiece, CTC */
    char replacement[8];   /* Metaspace */
    cf_prepend_scheme prepend_scheme;
    char *content;         /* Strip content / Replace content / CTC pad token / BPE suffix */
    cf_regex *pattern;     /* Replace */
    int64_t start, stop;   /* Strip */
    char *word_delimiter;  /* CTC */
    char *replace_char;    /* Wav2Vec2CTC: what the word delimiter becomes */
    bool lowercase;        /* Wav2Vec2CTC */
    char **specials;       /* SentencePieceRuns: the tokens that end a run */
    size_t n_specials;
} cf_decoder;

cf_status cf_decoder_parse(const cJSON *j, cf_decoder *out, cf_error *err);
/* Rewrites the token strings in place (a list of malloc'ed strings, count may shrink). */
cf_status cf_decoder_apply(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err);
void cf_decoder_free(cf_decoder *d);

/* ------------------------------------------------------------ added tokens */

typedef struct cf_added_token {
    char *content;
    int64_t id;
    bool single_word, lstrip, rstrip, normalized, special;
} cf_added_token;

typedef struct cf_trie cf_trie;

typedef struct cf_added_vocab {
    cf_added_token *v;
    size_t n, cap;
    cf_vocab by_content; /* content -> id */
    cf_trie *raw_trie;   /* tokens matched on the raw text (normalized=false) */
    cf_trie *norm_trie;  /* tokens matched on the normalized text */
} cf_added_vocab;

cf_status cf_added_parse(const cJSON *arr, cf_added_vocab *out, cf_error *err);
cf_status cf_added_add(cf_added_vocab *av, const cf_added_token *t, cf_error *err);
/* Build the matchers once the normalizer is known (normalized tokens are matched in normalized form). */
cf_status cf_added_build(cf_added_vocab *av, const cf_normalizer *norm, cf_error *err);
/* Split the text around added tokens, normalizing the other pieces (AddedVocabulary::extract_and_normalize). */
cf_status cf_added_extract_and_normalize(const cf_added_vocab *av, const cf_normalizer *norm, const char *text,
                                         size_t len, cf_pretokenized *out, cf_error *err);
const cf_added_token *cf_added_find_id(const cf_added_vocab *av, int64_t id);
void cf_added_free(cf_added_vocab *av);

/* ------------------------------------------------------------ direct word paths (fast_words.c) */

typedef enum cf_fast_kind { CF_FAST_NONE, CF_FAST_BYTE_LEVEL, CF_FAST_BERT } cf_fast_kind;

/* Which direct path fits a pre-tokenizer + model pair. */
cf_fast_kind cf_fast_kind_of(const cf_pretokenizer *pt, bool has_pretok, const cf_model *m);

struct cf_tokenizer;
/* Pre-tokenize and tokenize one untokenized split directly: tokens (offsets in ns, word =
 * pre-token index within the split) go to out, *n_words counts the pre-tokens. *handled is
 * false when this split needs the general path. With a nonzero budget, stops after the
 * pre-token whose tokens bring out->n to it (*stopped). */
cf_status cf_fast_tokenize_split(const struct cf_tokenizer *tok, const cf_normalized *ns, size_t budget,
                                 cf_toks *out, size_t *n_words, bool *handled, bool *stopped, cf_error *err);

/* ------------------------------------------------------------ the tokenizer */

typedef struct cf_special_roles {
    char *bos, *eos, *pad, *mask, *cls, *sep, *unk;
} cf_special_roles;

struct cf_tokenizer {
    bool has_normalizer, has_pretok, has_post, has_decoder;
    cf_normalizer normalizer;
    cf_pretokenizer pretok;
    cf_model model;
    cf_post post;
    cf_decoder decoder;
    cf_added_vocab added;
    /* truncation / padding defaults from tokenizer.json */
    cf_encode_options defaults;
    int64_t pad_id, pad_type_id;
    char *pad_token;
    /* from tokenizer_config.json / special_tokens_map.json */
    cf_special_roles roles;
    int64_t model_max_length; /* 0 when unknown */
    bool clean_up_tokenization_spaces;
    char *tokenizer_class;
    size_t vocab_size;
    cf_fast_kind fast;
};

/* Build from a parsed tokenizer.json document (the legacy converters produce one too). */
cf_status cf_tokenizer_from_json(const cJSON *doc, const char *where, cf_tokenizer **out, cf_error *err);
/* Read tokenizer_config.json / special_tokens_map.json of `dir` (missing files are fine). */
cf_status cf_tokenizer_read_config(cf_tokenizer *tok, const char *dir, cf_error *err);

/* Legacy converters: an equivalent tokenizer.json document from the old files of `dir`. */
cf_status cf_convert_bert(const char *dir, const cJSON *config, cJSON **out, cf_error *err);
cf_status cf_convert_bpe(const char *dir, const cJSON *config, cJSON **out, cf_error *err);
cf_status cf_convert_wordlevel_ctc(const char *dir, const cJSON *config, cJSON **out, cf_error *err);
/* Added tokens of a legacy folder (added_tokens.json, tokenizer_config.json added_tokens_decoder,
 * special_tokens_map.json) appended to doc["added_tokens"]. */
cf_status cf_convert_added_tokens(const char *dir, const cJSON *config, const cf_vocab *vocab, cJSON *doc,
                                  cf_error *err);

#endif
