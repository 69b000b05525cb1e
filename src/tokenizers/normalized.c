#include "tokenizers/normalized.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizers/grow.h"

uint32_t cf_utf8_decode(const char *s, size_t *len)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80) {
        *len = 1;
        return u[0];
    }
    if (u[0] < 0xE0) {
        *len = 2;
        return ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    }
    if (u[0] < 0xF0) {
        *len = 3;
        return ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) | ((uint32_t)(u[2] & 0x3F) << 6) |
           (u[3] & 0x3F);
}

size_t cf_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t cf_utf8_invalid_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t min, cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2, min = 0x80, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3, min = 0x800, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (i + n > len)
            return i;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n;
    }
    return len;
}

static bool reserve(cf_normalized *ns, size_t need)
{
    if (need + 1 <= ns->cap)
        return true;
    size_t cap = ns->cap ? ns->cap : 16;
    while (cap < need + 1)
        cap *= 2;
    char *t = realloc(ns->text, cap);
    if (!t)
        return false;
    ns->text = t;
    cf_span *a = realloc(ns->align, cap * sizeof *a);
    if (!a)
        return false;
    ns->align = a;
    ns->cap = cap;
    return true;
}

cf_status cf_normalized_init(cf_normalized *ns, const char *original, size_t start, size_t end, cf_error *err)
{
    memset(ns, 0, sizeof *ns);
    if (end - start > UINT32_MAX - 1 || end > UINT32_MAX)
        return cf_fail(err, CF_ERR_INVALID_ARG, "text of %zu bytes is too long to tokenize (limit 4 GiB)", end);
    if (!reserve(ns, end - start))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory normalizing %zu bytes", end - start);
    memcpy(ns->text, original + start, end - start);
    ns->len = end - start;
    ns->text[ns->len] = '\0';
    for (size_t i = start; i < end;) {
        size_t n;
        cf_utf8_decode(original + i, &n);
        if (i + n > end)
            n = end - i;
        for (size_t k = 0; k < n; k++)
            ns->align[i - start + k] = (cf_span){(uint32_t)i, (uint32_t)(i + n)};
        i += n;
    }
    ns->orig_start = start;
    ns->orig_end = end;
    return CF_OK;
}

void cf_normalized_free(cf_normalized *ns)
{
    free(ns->text);
    free(ns->align);
    memset(ns, 0, sizeof *ns);
}

cf_status cf_normalized_slice(const cf_normalized *ns, size_t start, size_t end, cf_normalized *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!reserve(out, end - start))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory splitting text");
    memcpy(out->text, ns->text + start, end - start);
    memcpy(out->align, ns->align + start, (end - start) * sizeof *out->align);
    out->len = end - start;
    out->text[out->len] = '\0';
    cf_normalized_original_range(ns, start, end, &out->orig_start, &out->orig_end);
    return CF_OK;
}

void cf_normalized_original_range(const cf_normalized *ns, size_t start, size_t end, size_t *ostart, size_t *oend)
{
    if (start >= end || end > ns->len) {
        /* An empty target maps to itself (relative to where this string starts). */
        *ostart = ns->orig_start + start;
        *oend = ns->orig_start + (end > start ? end : start);
        if (ns->len == 0) {
            *ostart = ns->orig_start;
            *oend = ns->orig_end;
        }
        return;
    }
    *ostart = ns->align[start].start;
    *oend = ns->align[end - 1].end;
}

bool cf_norm_changes_push(cf_norm_changes *c, uint32_t cp, int32_t change)
{
    cf_norm_change *v = cf_grow_for_one(c->v, c->n, &c->cap, sizeof *v, 64);
    if (!v)
        return false;
    c->v = v;
    c->v[c->n++] = (cf_norm_change){cp, change};
    return true;
}

void cf_norm_changes_free(cf_norm_changes *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

static size_t next_char_len(const cf_normalized *ns, size_t at, size_t end)
{
    if (at >= end)
        return 0;
    size_t n;
    cf_utf8_decode(ns->text + at, &n);
    return at + n > end ? end - at : n;
}

cf_status cf_normalized_transform_range(cf_normalized *ns, size_t start, size_t end, const cf_norm_change *ch,
                                        size_t n, size_t initial_offset, cf_error *err)
{
    size_t rp = start; /* next current char that a change replaces */
    for (size_t k = 0; k < initial_offset; k++)
        rp += next_char_len(ns, rp, end);
    size_t out_len = 0;
    for (size_t i = 0; i < n; i++) {
        char tmp[4];
        out_len += cf_utf8_encode(ch[i].cp, tmp);
    }
    char *text = malloc(out_len + 1);
    cf_span *align = malloc((out_len + 1) * sizeof *align);
    if (!text || !align) {
        free(text);
        free(align);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory normalizing text");
    }
    cf_span empty = {(uint32_t)ns->orig_start, (uint32_t)ns->orig_start};
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        cf_span a;
        if (ch[i].change > 0)
            a = rp < 1 ? empty : ns->align[rp - 1 < ns->len ? rp - 1 : ns->len - 1];
        else if (rp < ns->len)
            a = ns->align[rp];
        else
            a = ns->len ? ns->align[ns->len - 1] : empty;
        if (ch[i].change <= 0)
            rp += next_char_len(ns, rp, end);
        for (int32_t r = 0; r < -ch[i].change; r++)
            rp += next_char_len(ns, rp, end);
        size_t k = cf_utf8_encode(ch[i].cp, text + w);
        for (size_t b = 0; b < k; b++)
            align[w + b] = a;
        w += k;
    }
    size_t new_len = ns->len - (end - start) + out_len;
    if (!reserve(ns, new_len)) {
        free(text);
        free(align);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory normalizing text");
    }
    memmove(ns->text + start + out_len, ns->text + end, ns->len - end);
    memmove(ns->align + start + out_len, ns->align + end, (ns->len - end) * sizeof *align);
    memcpy(ns->text + start, text, out_len);
    memcpy(ns->align + start, align, out_len * sizeof *align);
    ns->len = new_len;
    ns->text[new_len] = '\0';
    free(text);
    free(align);
    return CF_OK;
}

cf_status cf_normalized_transform(cf_normalized *ns, const cf_norm_changes *c, size_t initial_offset, cf_error *err)
{
    return cf_normalized_transform_range(ns, 0, ns->len, c->v, c->n, initial_offset, err);
}

void cf_norm_builder_init(cf_norm_builder *b, cf_normalized *ns)
{
    memset(b, 0, sizeof *b);
    b->ns = ns;
}

cf_status cf_norm_builder_emit(void *ctx, const char *out, size_t out_len, size_t src_start, size_t src_end)
{
    cf_norm_builder *b = ctx;
    if (src_end < src_start || src_end > b->ns->len)
        return CF_ERR_INTERNAL;
    if (out_len != src_end - src_start || memcmp(out, b->ns->text + src_start, out_len) != 0)
        b->modified = true;
    long old_count = 0;
    for (size_t i = src_start; i < src_end;) {
        i += next_char_len(b->ns, i, src_end);
        old_count++;
    }
    long new_count = 0;
    for (size_t i = 0; i < out_len;) {
        size_t n;
        uint32_t cp = cf_utf8_decode(out + i, &n);
        if (i + n > out_len)
            return CF_ERR_INTERNAL;
        if (!cf_norm_changes_push(&b->changes, cp, 0))
            return CF_ERR_NOMEM;
        i += n;
        new_count++;
    }
    long diff = new_count - old_count;
    if (diff > 0) {
        for (long k = 0; k < diff; k++)
            b->changes.v[b->changes.n - 1 - (size_t)k].change = 1;
    } else if (diff < 0 && b->changes.n > 0) {
        b->changes.v[b->changes.n - 1].change += (int32_t)diff;
    }
    return CF_OK;
}

cf_status cf_norm_builder_finish(cf_norm_builder *b, cf_error *err)
{
    cf_status st = CF_OK;
    if (b->modified)
        st = cf_normalized_transform(b->ns, &b->changes, 0, err);
    cf_norm_changes_free(&b->changes);
    return st;
}
