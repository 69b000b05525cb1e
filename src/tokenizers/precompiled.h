/* The Precompiled normalizer: sentencepiece's precompiled_charsmap, applied exactly as
 * Hugging Face tokenizers applies it.
 *
 * The charsmap is [uint32 little-endian trie byte size][darts-clone double-array trie of
 * that many bytes][NUL-separated UTF-8 replacement strings]; a trie value is the byte offset
 * of a replacement string. Normalization walks the text one extended grapheme cluster at a
 * time: a cluster shorter than 6 bytes whose bytes start with a trie key is replaced whole
 * by the replacement of the shortest such key; otherwise each char of the cluster is
 * replaced by the replacement of the shortest key it starts with, or kept. */
#ifndef CF_TOKENIZERS_PRECOMPILED_H
#define CF_TOKENIZERS_PRECOMPILED_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tokenizers/normalized.h"

typedef struct cf_precompiled cf_precompiled;

/* Parse (and copy) a charsmap. Rejects a header past the end or replacement strings that
 * are not UTF-8. */
cf_status cf_precompiled_new(const uint8_t *charsmap, size_t len, cf_precompiled **out, cf_error *err);

/* Normalize s[0, len) (valid UTF-8). Calls emit, in order, for every output piece with the
 * byte range of s it replaces; pieces cover s exactly. Unchanged text is emitted as itself
 * (then `out` points into s); a replacement points into the charsmap (it may be empty, a
 * removal). A replacement of old_count chars by new_count chars is, in the Rust library's
 * transformations, change 0 for each new char, then +1 on the last new_count - old_count
 * chars when it grows, or new_count - old_count added to the last char emitted so far when
 * it shrinks. Stops at the first status emit returns other than CF_OK. */
cf_status cf_precompiled_normalize(const cf_precompiled *p, const char *s, size_t len, cf_norm_emit_fn emit,
                                   void *ctx, cf_error *err);

/* The whole normalized string (malloc'ed, NUL-terminated); convenience for tests and tools. */
cf_status cf_precompiled_normalize_string(const cf_precompiled *p, const char *s, size_t len, char **out,
                                          size_t *out_len, cf_error *err);

void cf_precompiled_free(cf_precompiled *p);

#endif
