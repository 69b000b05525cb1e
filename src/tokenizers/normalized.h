/* Normalized strings with alignments, as Hugging Face tokenizers' NormalizedString.
 *
 * A normalized string is the text after normalization plus, for every normalized byte,
 * the byte range of the caller's original string it came from. Every normalizer and
 * pre-tokenizer edits text through "transformations": a list of (char, change) where
 * change 0 replaces one current char, +1 inserts a char (aligned like the char before it)
 * and -n replaces one char and removes the n chars after it. That is exactly the rule
 * the Rust library applies, so offsets come out identical. */
#ifndef CF_TOKENIZERS_NORMALIZED_H
#define CF_TOKENIZERS_NORMALIZED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A normalizer that rewrites text piece by piece (e.g. the sentencepiece Precompiled
 * charsmap) reports, in order, each output piece and the byte range [src_start, src_end)
 * of the current text it replaces; unchanged text is emitted as itself. */
typedef cf_status (*cf_norm_emit_fn)(void *ctx, const char *out, size_t out_len, size_t src_start, size_t src_end);

typedef struct cf_span {
    uint32_t start, end; /* byte range in the caller's original string */
} cf_span;

typedef struct cf_normalized {
    char *text; /* NUL-terminated normalized bytes */
    size_t len, cap;
    cf_span *align;             /* one per normalized byte */
    size_t orig_start, orig_end; /* the part of the original string this covers */
} cf_normalized;

/* One transformation step (see the header comment). */
typedef struct cf_norm_change {
    uint32_t cp;
    int32_t change;
} cf_norm_change;

typedef struct cf_norm_changes {
    cf_norm_change *v;
    size_t n, cap;
} cf_norm_changes;

/* A fresh normalized string equal to original[start, end) of a string whose bytes are at
 * `original` (the alignments are absolute byte positions in it). */
cf_status cf_normalized_init(cf_normalized *ns, const char *original, size_t start, size_t end, cf_error *err);
void cf_normalized_free(cf_normalized *ns);
/* A deep copy of normalized bytes [start, end) as its own normalized string (HF slice). */
cf_status cf_normalized_slice(const cf_normalized *ns, size_t start, size_t end, cf_normalized *out, cf_error *err);

bool cf_norm_changes_push(cf_norm_changes *c, uint32_t cp, int32_t change);
void cf_norm_changes_free(cf_norm_changes *c);

/* Replace normalized bytes [start, end) by the chars of `ch`, skipping `initial_offset`
 * chars of the range first (they are removed). */
cf_status cf_normalized_transform_range(cf_normalized *ns, size_t start, size_t end, const cf_norm_change *ch,
                                        size_t n, size_t initial_offset, cf_error *err);
/* The same over the whole string. */
cf_status cf_normalized_transform(cf_normalized *ns, const cf_norm_changes *c, size_t initial_offset,
                                  cf_error *err);

/* Collects the pieces a cf_norm_emit_fn reports into transformations, with the rule the
 * Rust Precompiled normalizer uses; then cf_norm_builder_finish applies them. */
typedef struct cf_norm_builder {
    cf_normalized *ns;
    cf_norm_changes changes;
    bool modified;
} cf_norm_builder;

void cf_norm_builder_init(cf_norm_builder *b, cf_normalized *ns);
/* Matches cf_norm_emit_fn; ctx is a cf_norm_builder. */
cf_status cf_norm_builder_emit(void *ctx, const char *out, size_t out_len, size_t src_start, size_t src_end);
/* Applies what was emitted (nothing when every piece was unchanged) and frees the builder. */
cf_status cf_norm_builder_finish(cf_norm_builder *b, cf_error *err);

/* Original byte range of normalized bytes [start, end), as NormalizedString::convert_offsets. */
void cf_normalized_original_range(const cf_normalized *ns, size_t start, size_t end, size_t *ostart,
                                  size_t *oend);

/* UTF-8 helpers over text already known to be valid. */
uint32_t cf_utf8_decode(const char *s, size_t *len);
size_t cf_utf8_encode(uint32_t cp, char out[4]);
/* Byte offset of the first invalid UTF-8 sequence in s, or len when all is valid. */
size_t cf_utf8_invalid_at(const char *s, size_t len);

#endif
