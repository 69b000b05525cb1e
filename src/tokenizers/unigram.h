/* The Unigram model (T5, ALBERT, XLNet, Marian...), exactly as Hugging Face tokenizers'
 * Unigram: Viterbi over the lattice of vocabulary pieces found with a trie; a char no
 * piece starts with becomes an unknown node scored (lowest piece score - 10); consecutive
 * unknown nodes fuse into one token; with byte_fallback a token missing from the vocabulary
 * becomes its <0xXX> byte pieces. Time is linear in the input times the longest piece. */
#ifndef CF_TOKENIZERS_UNIGRAM_H
#define CF_TOKENIZERS_UNIGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cJSON cJSON;
typedef struct cf_unigram cf_unigram;

typedef struct {
    int64_t id;
    size_t start, end; /* byte range within the input */
} cf_unigram_token;

/* pieces[i] with scores[i] has id i. unk_id < 0 means none (then an unknown char is an
 * encode error, as in the Rust library). A repeated piece string maps to its last id. */
cf_status cf_unigram_new(const char *const *pieces, const double *scores, size_t n, int64_t unk_id,
                         bool byte_fallback, cf_unigram **out, cf_error *err);

/* A Unigram whose lattice is built from one piece list (lattice_pieces/lattice_scores) while
 * the token ids come from another vocabulary (vocab[i] has id i): each token string is
 * looked up in vocab, and a missing one becomes unk_id (a vocab id). Unknown lattice nodes
 * are scored (lowest lattice score - 10). This is sentencepiece + a separate id table,
 * as Marian's source.spm + vocab.json. */
cf_status cf_unigram_new_mapped(const char *const *lattice_pieces, const double *lattice_scores, size_t n_lattice,
                                const char *const *vocab, size_t n_vocab, int64_t unk_id, bool byte_fallback,
                                cf_unigram **out, cf_error *err);

/* Build from a tokenizer.json "model" object of type "Unigram": {"unk_id", "vocab":
 * [[piece, score], ...], "byte_fallback"}. The optional key "lattice" ([[piece, score], ...],
 * written by cf_spm_convert for Marian) selects cf_unigram_new_mapped with "vocab" as the
 * id table. Errors name the bad entry. */
cf_status cf_unigram_from_json(const cJSON *model, cf_unigram **out, cf_error *err);

/* Encode s[0, len) (valid UTF-8; invalid input is an error naming the byte offset).
 * *toks is malloc'ed (NULL when *n is 0). Byte-fallback tokens each carry the range of
 * the whole unknown span, as the Rust library does. */
cf_status cf_unigram_encode(const cf_unigram *u, const char *s, size_t len, cf_unigram_token **toks, size_t *n,
                            cf_error *err);

size_t cf_unigram_vocab_size(const cf_unigram *u);
/* Piece string of an id (NULL when out of range). */
const char *cf_unigram_id_to_token(const cf_unigram *u, int64_t id);
/* Id of a piece string, -1 when absent. */
int64_t cf_unigram_token_to_id(const cf_unigram *u, const char *token, size_t len);

void cf_unigram_free(cf_unigram *u);

#endif
