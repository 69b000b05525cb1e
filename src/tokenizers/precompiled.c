/* sentencepiece's precompiled charsmap: a darts-clone double-array trie over UTF-8 keys
 * whose values index NUL-terminated replacement strings. See precompiled.h. */
#include "tokenizers/precompiled.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/buf.h"

struct cf_precompiled {
    uint32_t *units; /* the double array */
    size_t n_units;
    char *normalized; /* the replacement strings, NUL-separated */
    size_t normalized_len;
};

/* darts-clone unit layout. */
static bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }
static uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xff); }
static size_t unit_offset(uint32_t u) { return (size_t)(u >> 10) << ((u & (1u << 9)) >> 6); }

cf_status cf_precompiled_new(const uint8_t *charsmap, size_t len, cf_precompiled **out, cf_error *err)
{
    *out = NULL;
    if (!charsmap || len < 4)
        return cf_fail(err, CF_ERR_FORMAT, "precompiled_charsmap: %zu bytes, too short for its 4-byte trie size header",
                       len);
    uint32_t trie_bytes = (uint32_t)charsmap[0] | (uint32_t)charsmap[1] << 8 | (uint32_t)charsmap[2] << 16 |
                          (uint32_t)charsmap[3] << 24;
    size_t n_units = trie_bytes / 4;
    if (n_units > (len - 4) / 4)
        return cf_fail(err, CF_ERR_FORMAT,
                       "precompiled_charsmap: header says the trie has %u bytes but only %zu follow the header",
                       trie_bytes, len - 4);
    if (n_units == 0)
        return cf_fail(err, CF_ERR_FORMAT, "precompiled_charsmap: empty trie (header says %u bytes)", trie_bytes);
    const char *blob = (const char *)charsmap + 4 + n_units * 4;
    size_t blob_len = len - 4 - n_units * 4;
    size_t bad = cf_utf8_invalid_at(blob, blob_len);
    if (bad != blob_len)
        return cf_fail(err, CF_ERR_FORMAT,
                       "precompiled_charsmap: replacement strings are not valid UTF-8 (byte %zu of the charsmap)",
                       4 + n_units * 4 + bad);
    cf_precompiled *p = calloc(1, sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "precompiled_charsmap: out of memory");
    p->units = malloc(n_units * sizeof *p->units);
    p->normalized = malloc(blob_len + 1);
    if (!p->units || !p->normalized) {
        cf_precompiled_free(p);
        return cf_fail(err, CF_ERR_NOMEM, "precompiled_charsmap: out of memory for %zu trie units", n_units);
    }
    for (size_t i = 0; i < n_units; i++) {
        const uint8_t *u = charsmap + 4 + 4 * i;
        p->units[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
    }
    p->n_units = n_units;
    memcpy(p->normalized, blob, blob_len);
    p->normalized[blob_len] = '\0';
    p->normalized_len = blob_len;
    *out = p;
    return CF_OK;
}

void cf_precompiled_free(cf_precompiled *p)
{
    if (!p)
        return;
    free(p->units);
    free(p->normalized);
    free(p);
}

/* Value of the shortest trie key that prefixes key[0, len) (the first hit of darts-clone's
 * common prefix search); false when none. A walk off the array is a miss. */
static bool shortest_prefix_value(const cf_precompiled *p, const uint8_t *key, size_t len, uint32_t *value)
{
    size_t node = unit_offset(p->units[0]);
    for (size_t i = 0; i < len && key[i] != 0; i++) {
        node ^= key[i];
        if (node >= p->n_units)
            return false;
        uint32_t unit = p->units[node];
        if (unit_label(unit) != key[i])
            return false;
        node ^= unit_offset(unit);
        if (node >= p->n_units)
            return false;
        if (unit_has_leaf(unit)) {
            *value = unit_value(p->units[node]);
            return true;
        }
    }
    return false;
}

/* The replacement string a trie value points at. */
static cf_status replacement_at(const cf_precompiled *p, uint32_t value, const char **out, size_t *out_len,
                                cf_error *err)
{
    if (value > p->normalized_len || (value < p->normalized_len && ((uint8_t)p->normalized[value] & 0xc0) == 0x80))
        return cf_fail(err, CF_ERR_FORMAT,
                       "precompiled_charsmap: trie value %u is not the start of a replacement string (%zu bytes)",
                       value, p->normalized_len);
    const char *s = p->normalized + value;
    *out = s;
    *out_len = strlen(s); /* the blob copy is NUL-terminated */
    return CF_OK;
}

/* Replacement for s[0, len) when a trie key prefixes it. */
static cf_status transform(const cf_precompiled *p, const char *s, size_t len, const char **out, size_t *out_len,
                           bool *found, cf_error *err)
{
    uint32_t value;
    *found = shortest_prefix_value(p, (const uint8_t *)s, len, &value);
    if (!*found)
        return CF_OK;
    return replacement_at(p, value, out, out_len, err);
}

/* Byte length of the extended grapheme cluster starting at s[pos]. */
static size_t grapheme_len(const char *s, size_t len, size_t pos)
{
    utf8proc_int32_t prev, cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + pos, (utf8proc_ssize_t)(len - pos), &prev);
    if (n <= 0)
        return 1;
    size_t end = pos + (size_t)n;
    utf8proc_int32_t state = 0;
    while (end < len) {
        n = utf8proc_iterate((const utf8proc_uint8_t *)s + end, (utf8proc_ssize_t)(len - end), &cp);
        if (n <= 0 || utf8proc_grapheme_break_stateful(prev, cp, &state))
            break;
        end += (size_t)n;
        prev = cp;
    }
    return end - pos;
}

static size_t char_len(const char *s, size_t len, size_t pos)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + pos, (utf8proc_ssize_t)(len - pos), &cp);
    return n > 0 ? (size_t)n : 1;
}

/* Emits unchanged text in runs: `run` is where the pending unchanged run starts. */
typedef struct emitter {
    const char *s;
    size_t run;
    cf_norm_emit_fn emit;
    void *ctx;
    cf_error *err;
} emitter;

static cf_status flush_run(emitter *e, size_t upto)
{
    if (upto > e->run) {
        cf_status st = e->emit(e->ctx, e->s + e->run, upto - e->run, e->run, upto);
        if (st != CF_OK)
            return cf_fail(e->err, st, "precompiled normalizer: the consumer rejected bytes [%zu, %zu)", e->run, upto);
    }
    e->run = upto;
    return CF_OK;
}

static cf_status emit_replacement(emitter *e, const char *out, size_t out_len, size_t start, size_t end)
{
    CF_TRY(flush_run(e, start));
    cf_status st = e->emit(e->ctx, out, out_len, start, end);
    if (st != CF_OK)
        return cf_fail(e->err, st, "precompiled normalizer: the consumer rejected bytes [%zu, %zu)", start, end);
    e->run = end;
    return CF_OK;
}

/* One grapheme cluster s[start, end): whole when short and matched, else char by char. */
static cf_status normalize_grapheme(const cf_precompiled *p, emitter *e, size_t start, size_t end, size_t len)
{
    const char *out;
    size_t out_len;
    bool found;
    if (end - start < 6) {
        CF_TRY(transform(p, e->s + start, end - start, &out, &out_len, &found, e->err));
        if (found)
            return emit_replacement(e, out, out_len, start, end);
    }
    for (size_t pos = start; pos < end;) {
        size_t n = char_len(e->s, len, pos);
        CF_TRY(transform(p, e->s + pos, n, &out, &out_len, &found, e->err));
        if (found)
            CF_TRY(emit_replacement(e, out, out_len, pos, pos + n));
        pos += n;
    }
    return CF_OK;
}

cf_status cf_precompiled_normalize(const cf_precompiled *p, const char *s, size_t len, cf_norm_emit_fn emit,
                                   void *ctx, cf_error *err)
{
    if (!p || (!s && len) || !emit)
        return cf_fail(err, CF_ERR_INVALID_ARG, "precompiled normalizer: NULL argument");
    size_t bad = cf_utf8_invalid_at(s, len);
    if (bad != len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "precompiled normalizer: invalid UTF-8 at byte offset %zu", bad);
    emitter e = {.s = s, .run = 0, .emit = emit, .ctx = ctx, .err = err};
    for (size_t pos = 0; pos < len;) {
        size_t end = pos + grapheme_len(s, len, pos);
        CF_TRY(normalize_grapheme(p, &e, pos, end, len));
        pos = end;
    }
    return flush_run(&e, len);
}

static cf_status append_piece(void *ctx, const char *out, size_t out_len, size_t src_start, size_t src_end)
{
    (void)src_start;
    (void)src_end;
    return cf_buf_append(ctx, out, out_len) ? CF_OK : CF_ERR_NOMEM;
}

cf_status cf_precompiled_normalize_string(const cf_precompiled *p, const char *s, size_t len, char **out,
                                          size_t *out_len, cf_error *err)
{
    cf_buf b = {0};
    *out = NULL;
    cf_status st = cf_precompiled_normalize(p, s, len, append_piece, &b, err);
    if (st != CF_OK) {
        cf_buf_free(&b);
        return st;
    }
    *out_len = b.len;
    *out = cf_buf_steal(&b);
    return *out ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "precompiled normalizer: out of memory");
}
