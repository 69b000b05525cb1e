/* Turning the token windows of long-form recognition back into one transcript, as
 * transformers 4.35.2 does it: _find_longest_common_sequence (overlapping windows stitched at
 * their best-matching overlap) and WhisperTokenizer._decode_asr (timestamps, strides, chunks). */
#ifndef CF_PIPELINES_ASR_MERGE_H
#define CF_PIPELINES_ASR_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipelines/pipeline.h"

typedef struct cf_token_seq {
    int64_t *ids;
    size_t n;
} cf_token_seq;

/* Stitch sequences[0..n) into *out (malloc'ed ids). */
cf_status cf_asr_longest_common_sequence(const cf_token_seq *seqs, size_t n, cf_token_seq *out, cf_error *err);

/* One generated window: its tokens and, for chunked audio, its stride in seconds. */
typedef struct cf_asr_window {
    const int64_t *ids;
    size_t n;
    bool has_stride;
    double chunk_len, stride_left, stride_right;
} cf_asr_window;

typedef struct cf_asr_decode_opts {
    bool return_timestamps;
    bool return_language;    /* each chunk names its language ("english"; null when none was decoded) */
    double time_precision;   /* chunk_length / max_source_positions: 0.02 s */
    int64_t timestamp_begin; /* <|notimestamps|> + 1 */
    /* the language a special token names ("english" for <|en|>: LANGUAGES[token[2:-2]]), or NULL;
     * the string must outlive the call */
    const char *(*language_of)(const void *ctx, int64_t id);
    const void *language_ctx;
} cf_asr_decode_opts;

/* _decode_asr: *text (malloc'ed) and, with timestamps or return_language, *chunks =
 * [{"language"?, "timestamp"?: [a, b], "text"}]. */
cf_status cf_asr_decode_whisper(const cf_tokenizer *tok, const cf_asr_window *windows, size_t n_windows,
                                const cf_asr_decode_opts *opt, char **text, cJSON **chunks, cf_error *err);

#endif
