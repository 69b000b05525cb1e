/* The sentencepiece ModelProto (sentencepiece_model.proto), read from its protobuf wire
 * format: the scored pieces, the trainer spec and the normalizer spec. Every length and
 * varint is bounds-checked; unknown fields are skipped; a malformed file gives
 * CF_ERR_FORMAT naming the field and byte offset. */
#ifndef CF_TOKENIZERS_SPM_PROTO_H
#define CF_TOKENIZERS_SPM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum cf_spm_piece_type {
    CF_SPM_NORMAL = 1,
    CF_SPM_UNKNOWN = 2,
    CF_SPM_CONTROL = 3,
    CF_SPM_USER_DEFINED = 4,
    CF_SPM_UNUSED = 5,
    CF_SPM_BYTE = 6
} cf_spm_piece_type;

typedef enum cf_spm_model_type {
    CF_SPM_UNIGRAM = 1,
    CF_SPM_BPE = 2,
    CF_SPM_WORD = 3,
    CF_SPM_CHAR = 4
} cf_spm_model_type;

typedef struct cf_spm_piece {
    char *piece; /* NUL-terminated, valid UTF-8, never empty */
    float score;
    cf_spm_piece_type type;
} cf_spm_piece;

/* TrainerSpec fields that change how text is encoded (defaults as in the .proto). */
typedef struct cf_spm_trainer_spec {
    cf_spm_model_type model_type;
    int32_t vocab_size;
    bool byte_fallback;
    bool split_digits;
    bool split_by_whitespace;
    bool split_by_number;
    bool split_by_unicode_script;
    bool treat_whitespace_as_suffix;
    bool allow_whitespace_only_pieces;
    int32_t unk_id, bos_id, eos_id, pad_id;
    char *unk_piece, *bos_piece, *eos_piece, *pad_piece, *unk_surface;
} cf_spm_trainer_spec;

typedef struct cf_spm_normalizer_spec {
    bool present;
    char *name;                    /* "" when absent */
    uint8_t *precompiled_charsmap; /* NULL when absent */
    size_t charsmap_len;
    bool add_dummy_prefix;
    bool remove_extra_whitespaces;
    bool escape_whitespaces;
} cf_spm_normalizer_spec;

typedef struct cf_spm_model {
    cf_spm_piece *pieces;
    size_t n_pieces;
    cf_spm_trainer_spec trainer;
    cf_spm_normalizer_spec normalizer;
    cf_spm_normalizer_spec denormalizer;
} cf_spm_model;

/* Parse a serialized ModelProto; `name` (e.g. the file name) prefixes error messages.
 * A model without pieces is rejected. On failure *out is left empty. */
cf_status cf_spm_parse(const uint8_t *data, size_t len, const char *name, cf_spm_model *out, cf_error *err);
/* Read and parse a .model / .spm file. */
cf_status cf_spm_load(const char *path, cf_spm_model *out, cf_error *err);
void cf_spm_model_free(cf_spm_model *m);

/* Name of a piece type ("NORMAL", ...). */
const char *cf_spm_piece_type_name(cf_spm_piece_type t);

#endif
